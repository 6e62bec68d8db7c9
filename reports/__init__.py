"""The report of a bench or compare run (BENCH §3-5): the verdict, charts, report.html, summary.md, the README's answer.

It reads results.json (and conformance.json) and writes files beside them. It never
imports locust and never starts a server or Locust itself (server_layers.compare runs
the probe and the measurement); the page it writes fetches nothing.
"""
