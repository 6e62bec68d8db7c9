"""The report of a bench run (BENCH §3-5): charts, report.html, summary.md.

It reads results.json (and conformance.json) and writes files beside them. It never
imports locust and never starts a server or Locust itself (compare goes through
conformance.probe and `server-layers bench`); the page it writes fetches nothing.
"""
