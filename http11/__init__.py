"""Sans-IO HTTP/1.1 for servers: parse requests from bytes, serialize responses to bytes.

No socket, no file, no thread, no clock of its own: layers do the I/O.
"""

from .errors import ProtocolError
from .messages import Address, Headers, Origin, Request, Response, error_response
from .parser import RequestParser
from .serialize import CONTINUE, http_date, serialize

__all__ = [
    "CONTINUE",
    "Address",
    "Headers",
    "Origin",
    "ProtocolError",
    "Request",
    "RequestParser",
    "Response",
    "error_response",
    "http_date",
    "serialize",
]
