"""The app as a WSGI callable (PEP 3333): `gunicorn adapters.wsgi:app`.

The host server parses and frames; this turns its environ into an http11.Request and the app's
Response into start_response and one body. The app is made on the first request, in the worker
that serves it (never in a pre-fork parent: a SQLite connection must not cross a fork).
"""

import threading
from urllib.parse import quote

from http11 import Origin

from . import answer, make_app, request

SPECIAL = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}  # the fields WSGI keeps without HTTP_


def fields(environ: dict) -> list[tuple[str, str]]:
    """The request's fields as the host server passed them (WSGI keeps neither their order nor their case)."""
    found = [(SPECIAL[key], value) for key, value in environ.items() if key in SPECIAL and value]
    return found + [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
                    if key.startswith("HTTP_")]


def target(environ: dict) -> str:
    """The target as sent where the server keeps it (gunicorn's RAW_URI), else rebuilt from PATH_INFO."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING")
    return quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,@:!$&'()*+~") + \
        (f"?{query}" if query else "")


def body(environ: dict) -> bytes:
    """Content-Length bytes, or (a chunked body the server decodes) everything wsgi.input gives."""
    stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    return stream.read() if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() else b""


def origin(environ: dict) -> Origin:
    remote = (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0))
    local = (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0))
    return Origin(environ.get("SERVER_SOFTWARE", "wsgi"), remote, lambda: local)


class Application:
    """The WSGI callable; the app behind it made once, on first use."""

    def __init__(self) -> None:
        self.app, self.lock = None, threading.Lock()

    def __call__(self, environ: dict, start_response):
        with self.lock:
            self.app = self.app or make_app()
        parsed = request(environ["REQUEST_METHOD"], target(environ), environ.get("SERVER_PROTOCOL", "HTTP/1.0"),
                         fields(environ), body(environ), origin(environ))
        status, headers, content = answer(self.app, parsed)
        start_response(f"{status.value} {status.phrase}", headers)
        return [content]


app = Application()
