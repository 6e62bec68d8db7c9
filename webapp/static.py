"""Files of the shipped static folder, with Last-Modified and If-Modified-Since.

Only regular files inside the folder are served: no listings, no way out.
"""

import os
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote_to_bytes

from http11 import Request, Response, error_response
from http11.limits import FILE_PIECE

STATIC_DIR = (Path(__file__).parent / "static").resolve()
SMALL_FILES = 32  # small files kept in memory, each at most FILE_PIECE bytes
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
    """The path `raw_path` (percent-encoded, relative) names inside STATIC_DIR, or None; it may not exist."""
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
    return real_path(name)


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
    try:
        stat = os.stat(path) if path is not None else None
    except OSError:
        stat = None
    if path is None or stat is None or not S_ISREG(stat.st_mode):
        return error_response(HTTPStatus.NOT_FOUND)
    mtime = int(stat.st_mtime)
    headers = [
        ("Content-Type", CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")),
        ("Last-Modified", http_date(mtime)),
    ]
    if not_modified_since(request.header("if-modified-since"), mtime):
        return Response(HTTPStatus.NOT_MODIFIED, headers[1:])
    if stat.st_size > FILE_PIECE:  # sent in pieces as the client takes them, never whole in memory (SPEC §4)
        return Response(HTTPStatus.OK, headers, length=stat.st_size, file=path)
    return Response(HTTPStatus.OK, headers, small_file(path, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=SMALL_FILES)
def small_file(path: Path, mtime_ns: int, size: int) -> bytes:
    """A file of at most FILE_PIECE bytes, read once per version (its modification time and size name it):
    at most SMALL_FILES * FILE_PIECE bytes in memory, and a file changed on disk is read again."""
    return path.read_bytes()


@lru_cache(maxsize=SMALL_FILES)
def http_date(mtime: int) -> str:
    return formatdate(mtime, usegmt=True)


def not_modified_since(value: str | None, mtime: int) -> bool:
    """True when If-Modified-Since is a valid date not older than the file (RFC 9110 §13.1.3)."""
    if not value:
        return False
    try:
        since = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()
