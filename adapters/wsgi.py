"""The app as a WSGI callable (PEP 3333): `gunicorn adapters.wsgi:app`.

The host server parses and frames; this turns its environ into an http11.Request and the app's
Response into start_response and one body. The app is made on the first request, in the worker
that serves it (never in a pre-fork parent: a SQLite connection must not cross a fork).
"""

import threading
from http import HTTPStatus
from urllib.parse import quote

from http11 import Origin, error_response
from webapp.app import App

from . import app_parts, declared_length, make_app, parts, refused, request

SPECIAL = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}  # the fields WSGI keeps without HTTP_


def fields(environ: dict) -> list[tuple[str, str]]:
    """The request's fields as the host server passed them (WSGI keeps neither their order nor their case)."""
    found = [(SPECIAL[key], value) for key, value in environ.items() if key in SPECIAL and value]
    return found + [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
                    if key.startswith("HTTP_")]


def target(environ: dict) -> str:
    """The target as sent where the server keeps it (gunicorn's RAW_URI), else rebuilt from PATH_INFO (a WSGI
    string: latin-1, byte for byte)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING")
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    return quote(path, safe="/;=,@:!$&'()*+~") + (f"?{query}" if query else "")


def body(environ: dict) -> bytes | None:
    """The body: to its end where the server says the stream ends there (wsgi.input_terminated: it decodes
    chunked bodies), else Content-Length bytes; None when the client went away before all of it came."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = declared_length(environ.get("CONTENT_LENGTH"))
    content = stream.read(length) if length else b""
    return content if len(content) == length else None


def origin(environ: dict) -> Origin:
    remote = (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0))
    local = (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0))
    return Origin(environ.get("SERVER_SOFTWARE", "wsgi"), remote, lambda: local)


class Application:
    """The WSGI callable; the app behind it made once, on first use."""

    def __init__(self) -> None:
        self.app: App | None = None
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response):
        with self.lock:
            app = self.app = self.app or make_app()
        refusal = refused(declared_length(environ.get("CONTENT_LENGTH")))
        content = None if refusal else body(environ)
        if content is None:  # past the limit, or cut short: the app never sees it
            status, headers, content = refusal or parts(error_response(HTTPStatus.BAD_REQUEST))
        else:
            parsed = request(environ["REQUEST_METHOD"], target(environ), environ.get("SERVER_PROTOCOL", "HTTP/1.0"),
                             fields(environ), content, origin(environ))
            status, headers, content = app_parts(app, parsed)
        start_response(f"{status.value} {status.phrase}", headers)
        return [content]


app = Application()
