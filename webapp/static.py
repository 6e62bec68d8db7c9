"""Files of the shipped static folder, with Last-Modified and If-Modified-Since.

Only regular files inside the folder are served: no listings, no way out.
"""

import os
from functools import lru_cache
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote_to_bytes

from http11 import Request, Response, error_response
from http11.limits import FILE_PIECE

STATIC_DIR = (Path(__file__).parent / "static").resolve()
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}


def resolve(raw_path: str) -> Path | None:
    """The file `raw_path` (percent-encoded, relative) names inside STATIC_DIR, or None."""
    path = raw_path.partition("?")[0]
    if "%2f" in path.lower() or "%5c" in path.lower():
        return None
    try:
        name = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return None
    candidate = real_path(name)
    return candidate if candidate is not None and candidate.is_file() else None


@lru_cache(maxsize=1024)
def real_path(name: str) -> Path | None:
    """STATIC_DIR/name with every symlink followed, or None when that leads out of the folder. Remembered: the
    walk costs a stat per path component in Python (about 50 µs), and the shipped folder does not change under a
    running server (a file's bytes and stat are still read per request). Bounded: a client asking for ever new
    names costs a walk per name, never memory."""
    candidate = (STATIC_DIR / name).resolve()
    return candidate if candidate.is_relative_to(STATIC_DIR) else None


def serve(raw_path: str, request: Request) -> Response:
    path = resolve(raw_path)
    if path is None:
        return error_response(HTTPStatus.NOT_FOUND)
    stat = os.stat(path)
    mtime = int(stat.st_mtime)
    headers = [
        ("Content-Type", CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")),
        ("Last-Modified", formatdate(mtime, usegmt=True)),
    ]
    if not_modified_since(request.header("if-modified-since"), mtime):
        return Response(HTTPStatus.NOT_MODIFIED, headers[1:])
    if stat.st_size > FILE_PIECE:  # sent in pieces as the client takes them, never whole in memory (SPEC §4)
        return Response(HTTPStatus.OK, headers, length=stat.st_size, file=path)
    return Response(HTTPStatus.OK, headers, path.read_bytes())


def not_modified_since(value: str | None, mtime: int) -> bool:
    """True when If-Modified-Since is a valid date not older than the file (RFC 9110 §13.1.3)."""
    if not value:
        return False
    try:
        since = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()
