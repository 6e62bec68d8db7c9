"""STOCK CGIHTTPRequestHandler over the shipped cgi-bin/, the reference for the gateway: `python -m bench.stock_cgi`.

Only what the standard library gives (deprecated in 3.13, removed in 3.15): ThreadingHTTPServer and
CGIHTTPRequestHandler serving the folder that holds cgi-bin/ (webapp/ by default, or --cgi-dir's
parent), so /cgi-bin/NAME runs the same scripts as the gateway. Stock answers HTTP/1.0 and closes
after every response (its CGI output carries no length). Deviations, stated:

- log_message is silenced unless --access-log (one stderr line per request would weigh on the figures).
- Stock run as root switches each script to the user `nobody` (os.setuid) before exec; here the script
  keeps the server's user, as the gateway's do: a checkout in a folder `nobody` cannot enter (a CI's
  private temporary folder) would fail every script otherwise. The switch is one system call per run.
- PATH is set to the gateway's fixed PATH before serving. Stock passes the server's whole environment to
  every script (conformance.cgi_differences lists that); with the server's own PATH, `#!/usr/bin/env python3`
  could find another interpreter (a pyenv shim costs ~0.1 s a start), and the rows would not compare
  the same script.
- --model threaded and --data-dir DIR are accepted and ignored, for the project's command line.

Prints `listening on http://HOST:PORT` once it listens; `--port 0` picks a free port. SIGTERM stops it, exit 0.
"""

import argparse
import functools
import os
import socket
import sys
import warnings
from http.server import ThreadingHTTPServer
from pathlib import Path

from .process import SHIPPED_CGI_BIN
from .stock_server import serve

with warnings.catch_warnings():  # 3.13 warns that it is deprecated: that is the point of this reference
    warnings.simplefilter("ignore", DeprecationWarning)
    import http.server
    from http.server import CGIHTTPRequestHandler

# run_cgi's setuid target: the server's own user (see above); nobody_uid is undocumented, so typeshed lacks it
http.server.nobody_uid = os.getuid  # type: ignore[attr-defined]

SCRIPT_PATH = "/usr/local/bin:/usr/bin:/bin"  # SPEC §7: the PATH the gateway gives every script


class Handler(CGIHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # `format`: the stock signature's name
        """Silenced: one stderr line per request would dominate what is measured."""


class Server(ThreadingHTTPServer):
    daemon_threads = True


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stock_cgi", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--cgi-dir", type=Path, default=SHIPPED_CGI_BIN, help="the scripts' folder, named cgi-bin")
    parser.add_argument("--access-log", action="store_true", help="the stock log line per request on stderr")
    parser.add_argument("--model", choices=["threaded"], default="threaded", help="accepted for a uniform command line")
    parser.add_argument("--data-dir", type=Path, help="accepted and ignored: this server stores nothing")
    options = parser.parse_args(argv)
    if options.cgi_dir.name != "cgi-bin" or not options.cgi_dir.is_dir():
        parser.error(f"--cgi-dir {options.cgi_dir}: stock serves a folder named cgi-bin")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    os.environ["PATH"] = SCRIPT_PATH  # the scripts' interpreter, as under the gateway (see above)
    handler_type = Handler if not options.access_log else type("LoggingHandler", (CGIHTTPRequestHandler,), {})
    handler = functools.partial(handler_type, directory=str(options.cgi_dir.resolve().parent))
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    return serve(type("Server", (Server,), {"address_family": family})((options.host, options.port), handler))


if __name__ == "__main__":
    sys.exit(main())
