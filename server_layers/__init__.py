"""The `server-layers` command, the top floor: it drives serve, bench, probe, report, compare and explain.

Nothing below imports it: the layers, serving, bench, conformance and reports know nothing of it.
"""
