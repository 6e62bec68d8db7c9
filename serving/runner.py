"""`main` of every layer: options, app, listen, announce, serve until a signal, drain, exit 0.

A layer gives `make_server(app, options, lifecycle)`; everything around it is here, once.
"""

import errno
import socket
import sqlite3
import sys
import time
from pathlib import Path

from http11 import Address
from oneline import fail
from webapp import App
from webapp.cgi import CGI_DIR, Gateway
from webapp.store import DB_NAME

from . import options as cli
from .contract import MakeServer, ServerOptions
from .lifecycle import GRACE_S, Lifecycle


def family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Created:
    """What this start is about to make (missing folders, the database files), to remove if the start fails."""

    def __init__(self, folders: list[Path], files: list[Path]) -> None:
        self.folders, self.files = folders, files  # folders deepest first

    def undo(self) -> None:
        for path in self.files:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # never made (the folder could not be)
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                return  # something else is in it now: not ours to remove


def open_data_dir(layer: str, data_dir: Path) -> Created:
    """Refuse a data dir that is a file, in words; note what a start would create there."""
    missing = [folder for folder in [data_dir, *data_dir.parents] if not folder.exists()]
    nearest = ([data_dir, *data_dir.parents])[len(missing)]  # the deepest folder (or file) that exists
    if not nearest.is_dir():
        what = f"--data-dir {data_dir}" + (f": {nearest}" if nearest != data_dir else "")
        fail(f"{layer}: {what} is a file, not a folder (give a folder; a missing one is created)")
    files = [data_dir / f"{DB_NAME}{suffix}" for suffix in ("", "-wal", "-shm")]
    return Created(missing, [path for path in files if not path.exists()])


def listen_error(options: ServerOptions, exc: OSError) -> str:
    """Why the socket could not listen, and what to do: the words depend on the cause."""
    where = f"{options.host} port {options.port}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve --host {options.host}: {exc.strerror or exc} (give an address, e.g. 127.0.0.1 or ::1)"
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: {exc.strerror} (is another server on it? try another --port, "
                "or --port 0 for a free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {exc.strerror} (--host must be an address of this machine, e.g. 127.0.0.1)"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def url(address: Address) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(layer: str, models: list[str], make_server: MakeServer, argv: list[str] | None = None,
        prog: str | None = None, loops: bool = False) -> int:
    options = cli.parse(layer, models, argv, prog, loops)
    created = open_data_dir(layer, options.data_dir)
    try:
        cgi_dir = options.cgi_dir.resolve() if options.cgi_dir else CGI_DIR
        app = App(options.data_dir, Gateway(cgi_dir, options.cgi_timeout))
    except (OSError, sqlite3.Error) as exc:
        created.undo()
        fail(f"{layer}: cannot use data dir {options.data_dir}: {exc} (give a writable --data-dir)")
    lifecycle = Lifecycle()
    try:
        server = make_server(app, options, lifecycle)
    except OSError as exc:
        app.close()
        created.undo()  # a start that failed leaves nothing behind
        fail(f"{layer}: {listen_error(options, exc)}")
    lifecycle.install_signal_handlers()
    print(f"listening on {url(server.address)}", flush=True)  # the one stdout line tests and bench wait for
    if sys.stderr.isatty():  # a person at a terminal, not a test or the bench
        print(f"open {url(server.address)}/ in a browser; Ctrl-C stops ({options.model} model)", file=sys.stderr)
    server.serve()
    server.drain(time.monotonic() + GRACE_S)
    app.close()
    sys.stdout.flush()
    return 0
