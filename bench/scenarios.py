"""The scenarios of BENCH §1 as data: no locust import, so the runner can read them."""

# scenario -> (Locust user class in bench/locustfile.py, requests per task run)
SCENARIOS = {
    "plaintext": ("PlaintextUser", 1.0),  # GET /plaintext
    "page": ("PageUser", 2.0),  # GET / then GET /test.jpg
    "guestbook": ("GuestbookUser", 2.0),  # POST /messages, then GET /messages?limit=20
    "mixed": ("MixedUser", (6 * 1 + 3 * 2 + 1 * 2) / 10),  # the three above, weighted 6:3:1
    "cgi-hello": ("CgiHelloUser", 1.0),  # GET /cgi-bin/hello.sh: a process per request (fork + exec of sh)
    "cgi-env": ("CgiEnvUser", 1.0),  # GET /cgi-bin/env.py: the same, plus a Python interpreter's start-up
}
CGI_SCENARIOS = ["cgi-hello", "cgi-env"]

# Environment the runner passes to every Locust process (and that remote workers need too).
RATE_ENV = "SERVER_LAYERS_USER_RPS"  # requests/s per user for fixed-rate runs; unset: constant(0)
RECORD_ENV = "SERVER_LAYERS_RECORD_DIR"  # where Locust writes its request counts and latency histogram

# Shared runs (compare's quick profile): one Locust process loads every server at once, its
# users shared out evenly, and counts each request per server and per window of time.
TARGETS_ENV = "SERVER_LAYERS_TARGETS"  # the servers' base URLs, space-separated
WINDOWS_ENV = "SERVER_LAYERS_WINDOWS"  # "seconds,rounds": window length; rounds after window 0, the warm-up
