"""`main` of every layer: options, app, listen, announce, serve until a signal, drain, exit 0.

A layer gives `make_server(options, app, lifecycle)`; everything around it is here, once.
"""

import socket
import sqlite3
import sys
import time
from collections.abc import Callable

from webapp import App

from . import options as cli
from .lifecycle import GRACE_S, Lifecycle


def family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def url(address: tuple) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(layer: str, models: list[str], make_server: Callable, argv: list[str] | None = None) -> int:
    options = cli.parse(layer, models, argv)
    try:
        app = App(options.data_dir)
    except (OSError, sqlite3.Error) as exc:
        cli.fail(f"{layer}: cannot use data dir {options.data_dir}: {exc} (give a writable --data-dir)")
    lifecycle = Lifecycle()
    try:
        server = make_server(options, app, lifecycle)
    except OSError as exc:
        cli.fail(f"{layer}: cannot listen on {options.host} port {options.port}: {exc.strerror or exc} "
                 "(is another server on it? try another --port, or --port 0 for a free one)")
    lifecycle.install_signal_handlers()
    print(f"listening on {url(server.address)}", flush=True)  # the one stdout line tests and bench wait for
    if sys.stderr.isatty():  # a person at a terminal, not a test or the bench
        print(f"open {url(server.address)}/ in a browser; Ctrl-C stops ({options.model} model)", file=sys.stderr)
    server.serve()
    server.drain(time.monotonic() + GRACE_S)
    app.close()
    sys.stdout.flush()
    return 0
