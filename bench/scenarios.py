"""The scenarios of BENCH §1 as data: no locust import, so the runner can read them."""

# scenario -> (Locust user class in bench/locustfile.py, requests per task run)
SCENARIOS = {
    "plaintext": ("PlaintextUser", 1.0),  # GET /plaintext
    "page": ("PageUser", 2.0),  # GET / then GET /test.jpg
    "guestbook": ("GuestbookUser", 2.0),  # POST /messages, then GET /messages?limit=20
    "mixed": ("MixedUser", (6 * 1 + 3 * 2 + 1 * 2) / 10),  # the three above, weighted 6:3:1
}

# Environment the runner passes to every Locust process (and that remote workers need too).
RATE_ENV = "SERVER_LAYERS_USER_RPS"  # requests/s per user for fixed-rate runs; unset: constant(0)
RECORD_ENV = "SERVER_LAYERS_RECORD_DIR"  # where Locust writes its request counts and latency histogram

# Multiplexed runs (compare's quick profile): one Locust process paces every server in turn, in
# phases of PHASE seconds; round 0 is a warm-up, then each round takes the targets in an order
# rotated by one (the same order as bench.runner.rotated), so pairs within a round are seconds apart.
TARGETS_ENV = "SERVER_LAYERS_TARGETS"  # the servers' base URLs, space-separated
PHASES_ENV = "SERVER_LAYERS_PHASES"  # "seconds,rounds": phase length and rounds after the warm-up
GUARD_S = 0.1  # no request starts in a phase's last GUARD_S, so each server is idle at the phase's edges


def phase_target(phase: int, targets: int) -> tuple[int, int]:
    """(round, target index) of phase `phase` of a multiplexed run: round 0 is the warm-up."""
    round_no, position = divmod(phase, targets)
    return round_no, (position + round_no - 1) % targets
