"""Request and Response, the two values that cross between a layer and the app.

Plain data: building or reading them does no I/O.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from .grammar import Fields, index, keep_alive, origin_path

Headers = list[tuple[str, str]]
Address = tuple[str, int] | tuple[str, int, int, int]  # a socket's address: IPv4 (host, port), IPv6 with flow and scope


@dataclass(slots=True, frozen=True)
class Origin:
    """The connection a request came on, as a CGI script is told of it (RFC 3875 §4.1): the Server value, the
    client's address, and how to learn the local one (a layer's getsockname, called only when a script runs)."""

    software: str
    remote: Address
    local: Callable[[], Address]


@dataclass(slots=True)
class Request:
    """One parsed request: names and values as received, the body decoded from its framing."""

    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""
    expect: str | None = None  # "continue", "unmet" or None (see grammar.expectation)
    fields: Fields = field(default_factory=dict, compare=False, repr=False)  # `headers` by lower-case name
    origin: Origin | None = field(default=None, compare=False, repr=False)  # set by the layer that received it

    def __post_init__(self) -> None:
        if not self.fields:  # not given: index `headers` (none given, or no headers: the same empty index)
            self.fields = index(self.headers)

    @property
    def path(self) -> str:
        """The origin-form path and query (absolute-form targets are reduced to it)."""
        return origin_path(self.target)

    def header(self, name: str) -> str | None:
        """The first value of the field `name` (lower-case), or None."""
        found = self.fields.get(name)
        return found[0] if found else None

    @property
    def keep_alive(self) -> bool:
        return keep_alive(self.version, self.fields)

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.target} {self.version}"


# 1xx, 204 and 304 carry no Content-Length (RFC 9110 §8.6): one set lookup, not two comparisons of an IntEnum
_WITHOUT_LENGTH = frozenset(status for status in HTTPStatus
                            if status < HTTPStatus.OK or status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED))


@dataclass(slots=True)
class Response:
    """What to answer. `length` is the Content-Length (HEAD keeps GET's length, sends no body).

    A large file's answer names the `file` instead of holding it in `body`: its first `length` bytes are the body,
    read in pieces by whoever sends it, as the client takes them (SPEC §4)."""

    status: HTTPStatus
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    length: int = -1  # -1: not given, len(body) (set by __post_init__)
    file: Path | None = None

    def __post_init__(self) -> None:
        if self.length < 0:
            self.length = len(self.body)

    @property
    def has_length(self) -> bool:
        """1xx, 204 and 304 carry no Content-Length (RFC 9110 §8.6)."""
        return self.status not in _WITHOUT_LENGTH


def error_response(status: HTTPStatus, headers: Headers | None = None, detail: str | None = None) -> Response:
    """SPEC §3: every 4xx/5xx is text/plain with the body `CODE REASON\\n`; an error the application decides
    adds one line, `detail`, saying what to change."""
    body = f"{int(status)} {status.phrase}\n{detail + chr(10) if detail else ''}".encode()
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], body)
