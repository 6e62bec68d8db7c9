"""CPU per request of the sans-IO path alone (http11 + webapp + Session), no socket.

    .venv/bin/python tools/session_cost.py                    # wrk's and Locust's GET /plaintext
    .venv/bin/python tools/session_cost.py --count 5000 --rounds 3

Feeds the same request bytes to one Session again and again and prints, per
request shape, the best of --rounds of --count requests in microseconds of this
process's CPU time. It is the quick check while optimising the parser, the
app's dispatch or the serializer: the part every layer but http_server_impl
shares. A server under load costs more (each request also goes through the
kernel and the layer, with colder caches): `make bench-reference` measures that.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oneline import OneLineParser
from serving.lifecycle import Lifecycle
from serving.options import parse
from serving.session import Session
from webapp.app import App

REQUESTS = {
    "wrk": b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
    "locust": b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: python/gevent-http-client-miniclient\r\n"
              b"Accept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n",
}
EXPECTED = b"HTTP/1.1 200 OK\r\n"


def cost(session: Session, request: bytes, count: int, rounds: int) -> float:
    """The best of `rounds` of `count` requests, in CPU microseconds per request."""
    if not session.receive(request).startswith(EXPECTED):
        raise SystemExit(f"unexpected answer to {request!r}")
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(count):
            session.receive(request)
        best = min(best, (time.process_time() - start) / count * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="tools/session_cost.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=30000, help="requests per round (default 30000)")
    p.add_argument("--rounds", type=int, default=5, help="rounds; the best is printed (default 5)")
    args = p.parse_args(argv)
    if args.count < 1 or args.rounds < 1:
        p.error("--count and --rounds must be >= 1")
    # no layer: the Session alone
    options = parse("session_cost", ["selectors"], ["--port", "0", "--model", "selectors"])
    with tempfile.TemporaryDirectory() as data:
        app = App(Path(data))
        for name, request in REQUESTS.items():
            session = Session(app, options, Lifecycle(), ("127.0.0.1", 1))
            print(f"{name:<7} {cost(session, request, args.count, args.rounds):6.2f} us of CPU per request "
                  f"(best of {args.rounds} x {args.count})")
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
