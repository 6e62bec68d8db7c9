"""A STOCK http.server, the reference point for http_server_impl: `python -m bench.stock_server`.

Only what the standard library gives: ThreadingHTTPServer and BaseHTTPRequestHandler
with protocol_version HTTP/1.1 (keep-alive), serving the project's app through the
thin adapter adapters.stock_http (every route, the same answers where stock can
carry them: the same app on every row of a comparison). It takes the knob flags of the project's servers, so the bench's
knob matrix runs it as the pseudo-layer `stock_http_server` (bench/knobs.py). Every
deviation from the stdlib defaults and every knob, stated:

- log_message is silenced: the stock handler writes one line per request to stderr,
  which would dominate the CPU per request measured here (our servers log nothing
  without --access-log either). --access-log keeps the stock log_message.
- --nodelay (default) sets disable_nagle_algorithm (TCP_NODELAY); --no-nodelay keeps
  the stock default, where a response written in several sends may wait for the
  client's delayed ACK.
- --no-keepalive adds `Connection: close` to every 200 (the stock send_error closes
  already), so the handler closes the connection after each response.
- --backlog N sets request_queue_size, the listen backlog; without it, the stock 5
  (the project's servers listen with 128), so in the knob matrix this server's
  default and backlog-5 rows are the same configuration.
- --model threaded is accepted and ignored (it is always threaded), for the same
  command line as the project's servers; --data-dir DIR holds the app's SQLite file
  (default: a new temporary folder).

Prints `listening on http://HOST:PORT` once it listens, like the project's servers;
`--port 0` picks a free port. SIGTERM or Ctrl-C stops it with exit 0.
"""

import argparse
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

from adapters import make_app, stock_http
from oneline import OneLineParser


class Handler(stock_http.Handler):
    def log_message(self, format: str, *args) -> None:  # `format`: the stock signature's name
        """Silenced: one stderr line per request would dominate what is measured."""


def handler_class(nodelay: bool, keepalive: bool = True, access_log: bool = False) -> type[BaseHTTPRequestHandler]:
    """The handler with the knobs: TCP_NODELAY, keep-alive, and the stock log_message back with --access-log."""
    attributes: dict[str, object] = {"disable_nagle_algorithm": nodelay, "keepalive": keepalive}
    if access_log:
        attributes["log_message"] = BaseHTTPRequestHandler.log_message
    return type("NoDelayHandler" if nodelay else "NagleHandler", (Handler,), attributes)


class Server(stock_http.AppServer):
    daemon_threads = True


def server_class(host: str, backlog: int) -> type[Server]:
    """IPv6 for a host with a colon; request_queue_size is the listen backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return type("Server6" if family == socket.AF_INET6 else "Server4", (Server,),
                {"address_family": family, "request_queue_size": backlog})


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m bench.stock_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--nodelay", action=argparse.BooleanOptionalAction, default=True,
                        help="TCP_NODELAY on accepted connections (disable_nagle_algorithm; default on)")
    parser.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                        help="Connection: close on every response")
    parser.add_argument("--backlog", type=int, default=ThreadingHTTPServer.request_queue_size,
                        help="listen backlog, request_queue_size (default: the stock %(default)s)")
    parser.add_argument("--access-log", action="store_true", help="the stock log line per request on stderr")
    parser.add_argument("--model", choices=["threaded"], default="threaded", help="accepted for a uniform command line")
    parser.add_argument("--data-dir", type=Path, help="the app's folder (default: a new temporary folder)")
    options = parser.parse_args(argv)
    if options.backlog < 1:
        parser.error("--backlog must be at least 1")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    handler = handler_class(options.nodelay, options.keepalive, options.access_log)
    server = server_class(options.host, options.backlog)((options.host, options.port), handler)
    server.app = make_app(options.data_dir)
    try:
        return serve(server)
    finally:
        server.app.close()


def serve(server: ThreadingHTTPServer) -> int:
    """Announce the address as the project's servers do, serve until SIGTERM or Ctrl-C, exit 0."""
    host, port = cast(tuple[str, int], server.server_address[:2])  # an AF_INET or AF_INET6 address
    print(f"listening on http://{f'[{host}]' if ':' in host else host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
