"""Thin adapters: the one app (webapp.App and its one route table) behind the interfaces other servers speak.

`adapters.wsgi:app` (PEP 3333, for gunicorn), `adapters.asgi:app` (ASGI 3, for uvicorn) and
`adapters.stock_http.Handler` (a stock http.server handler) each turn what their server parsed into
an http11.Request and the app's Response back into that server's calls. They translate, never route,
parse or frame: the host server does its own parsing and framing (that is what they are measured and
probed for), so a gap of the host server stays visible. This file holds what the three share. They never
import a layer of the project, and the project's servers never import them.
"""

import os
import re
import tempfile
from http import HTTPStatus
from pathlib import Path

from http11 import Origin, Request, Response, error_response, grammar
from http11.limits import MAX_BODY
from serving.session import decide_now, file_pieces
from webapp.app import App

DATA_DIR_ENV = "SERVER_LAYERS_DATA_DIR"  # where the app keeps its SQLite file; else a fresh temporary folder


def make_app(data_dir: Path | None = None) -> App:
    """The app over `data_dir`, else $SERVER_LAYERS_DATA_DIR, else a new temporary folder."""
    folder = data_dir or os.environ.get(DATA_DIR_ENV) or tempfile.mkdtemp(prefix="server-layers-adapter-")
    return App(Path(folder))


def declared_length(value: str | None) -> int:
    """A Content-Length of digits only, else 0 (no body: what a handler that trusts the host server reads)."""
    return int(value) if value and re.fullmatch(r"[0-9]{1,19}", value) else 0


def refused(length: int) -> tuple[HTTPStatus, list[tuple[str, str]], bytes] | None:
    """413 for a body past the contract's limit (never read into memory), else None."""
    return parts(error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)) if length > MAX_BODY else None


def parts(response: Response) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
    """A Response as a host server takes it: the status, the fields with Content-Length, and the whole body."""
    fields = [*response.headers, *([("Content-Length", str(response.length))] if response.has_length else [])]
    # a large file whole: the host server has its own flow control, which is what the reference rows measure
    body = b"".join(file_pieces(response.file, response.length)) if response.file else response.body
    return response.status, fields, body


def request(method: str, target: str, version: str, headers: list[tuple[str, str]], body: bytes,
            origin: Origin) -> Request:
    """The Request the app expects, from what the host server parsed (its expectation as the layers read it)."""
    fields = grammar.index(headers)
    return Request(method, target, version, headers, body, grammar.expectation(version, fields), fields, origin)


def parts_for(request: Request, response: Response) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
    """The status, the fields with Content-Length, and the body (none for HEAD)."""
    status, fields, body = parts(response)
    return status, fields, b"" if request.method == "HEAD" else body


def app_parts(app: App, request: Request) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
    """The app's answer to `request`, a Deferred run here (a blocking host: its worker thread waits), as
    parts_for gives it."""
    return parts_for(request, decide_now(app, request))
