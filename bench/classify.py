"""What bounded a run's throughput (BENCH §2), from its figures alone: pure, unit-tested."""

LOAD_GENERATOR_SHARE = 0.80  # throughput above 80% of the harness's own ceiling
LOCUST_BUSY_PCT = 90.0  # a load-generator process (Locust or wrk) above 90% of a core
SERVER_BUSY_PCT = 80.0  # below this the server had headroom: throughput followed the offered load


def bound_by(rps: float, ceiling_rps: float | None, locust_cpu_pct: float, server_cpu_pct: float) -> str:
    """"load-generator", "pacing" (the server had headroom; rps follows users or rate) or "server"."""
    if locust_cpu_pct > LOCUST_BUSY_PCT or (ceiling_rps and rps > LOAD_GENERATOR_SHARE * ceiling_rps):
        return "load-generator"
    if server_cpu_pct < SERVER_BUSY_PCT:
        return "pacing"
    return "server"



def bound_in_closed_loop(load_cpu_pct: float) -> str:
    """A closed-loop pass that keeps every connection's next request waiting (compare's wrk rounds): "server"
    unless the load generator was busy. The server may still idle between wrk's round trips; its figure,
    requests per CPU-second, counts only the CPU it spent."""
    return "load-generator" if load_cpu_pct > LOCUST_BUSY_PCT else "server"
