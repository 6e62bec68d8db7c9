"""Responses to bytes: status line, fields, body, in one buffer for one send.

Pure: the caller passes the date and the connection decision.
"""

from email.utils import formatdate
from http import HTTPStatus

from .messages import Response

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_date_cache: tuple[int, str] = (-1, "")


def http_date(now: float) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), formatted at most once per second."""
    global _date_cache
    second = int(now)
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(second, usegmt=True))
    return _date_cache[1]


_STATUS_LINES = {status: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in HTTPStatus}


def serialize(response: Response, *, server: str, date: str, connection: str | None) -> bytes:
    """The whole response; `connection` is the Connection field to send, if any."""
    head = f"{_STATUS_LINES[response.status]}Date: {date}\r\nServer: {server}\r\n"
    for name, value in response.headers:
        head += f"{name}: {value}\r\n"
    if response.has_length:
        head += f"Content-Length: {response.length}\r\n"
    if connection:
        head += f"Connection: {connection}\r\n"
    return (head + "\r\n").encode("latin-1") + response.body
