"""The benchmark: Locust scenarios, the runner that starts servers and Locust as separate processes, results.

Only bench/locustfile.py imports locust, and only Locust's own processes load it.
"""
