"""A STOCK http.server, the reference point for http_server_impl: `python -m bench.stock_server`.

Only what the standard library gives: ThreadingHTTPServer, BaseHTTPRequestHandler
with protocol_version HTTP/1.1 (keep-alive), one do_GET for /plaintext (404 for
anything else). Two deliberate changes from the defaults, both stated:

- log_message is silenced: the stock handler writes one line per request to stderr,
  which would dominate the CPU per request measured here (our servers log nothing
  without --access-log either).
- --nodelay (default) sets disable_nagle_algorithm (TCP_NODELAY); --no-nodelay keeps
  the stock default, where a response written in several sends may wait for the
  client's delayed ACK.

Prints `listening on http://HOST:PORT` once it listens, like the project's servers;
`--port 0` picks a free port. SIGTERM or Ctrl-C stops it with exit 0.
"""

import argparse
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"Hello, World!"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != "/plaintext":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stock signature
        """Silenced: one stderr line per request would dominate what is measured."""


def handler_class(nodelay: bool) -> type[BaseHTTPRequestHandler]:
    return type("NoDelayHandler" if nodelay else "NagleHandler", (Handler,), {"disable_nagle_algorithm": nodelay})


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stock_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--nodelay", action=argparse.BooleanOptionalAction, default=True,
                        help="TCP_NODELAY on accepted connections (disable_nagle_algorithm; default on)")
    options = parser.parse_args(argv)
    server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6}) if ":" in options.host else Server
    server = server_class((options.host, options.port), handler_class(options.nodelay))
    host, port = server.server_address[:2]
    print(f"listening on http://{f'[{host}]' if ':' in host else host}:{port}", flush=True)

    def stop(signum, frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
