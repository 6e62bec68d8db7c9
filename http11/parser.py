"""The incremental request parser: feed it bytes, take complete Requests out.

Sans-IO: no socket, no clock. Limits are checked on every feed, so a request
that passes one is refused before the rest of it arrives.
"""

import re
from collections.abc import Iterable, Sequence
from http import HTTPStatus

from . import grammar
from .errors import ProtocolError
from .limits import (
    MAX_BODY,
    MAX_CHUNK_LINE,
    MAX_CHUNK_SIZE_DIGITS,
    MAX_FIELD_LINE,
    MAX_FIELDS,
    MAX_HEADER_SECTION,
    MAX_METHOD,
    MAX_REQUEST_LINE,
)
from .messages import Request

BAD = HTTPStatus.BAD_REQUEST
TOO_LARGE_FIELDS = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
_chunk_line = re.compile(
    rb"([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*" + grammar._TOKEN + rb'(?:[ \t]*=[ \t]*(?:'
    + grammar._TOKEN + rb'|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*)'
)


def split_head(buffer: bytes | bytearray) -> int:
    """The end of the head (index after its empty line), or -1 if not complete."""
    end = buffer.find(b"\n\r\n")
    bare = buffer.find(b"\n\n", 0, end + 2 if end >= 0 else len(buffer))
    if bare >= 0:
        return bare + 2
    return end + 3 if end >= 0 else -1


# The common head in one regex: CRLF line ends, a target without percent-encoding, at most 100
# fields, short enough that no line can pass a limit. Whatever it matches, the full grammar
# accepts with the same result (a test holds the two together); anything else, valid or not,
# takes the full grammar below and its precise refusals. Each part of it can match in one way
# only (a value's characters include its white space), so a near miss costs no backtracking.
_TCHAR, _TOKEN, _VALUE = (p.decode("latin-1") for p in (grammar._TCHAR, grammar._TOKEN, grammar._VALUE_CHAR))
_PATH = grammar._PATH_CHAR.decode("latin-1").replace("%", "")
_FAST_HEAD = re.compile(
    f"(?!CONNECT )({_TCHAR}{{1,{MAX_METHOD}}}) (/{_PATH}*) (HTTP/1\\.[01])\r\n"
    f"((?:{_TOKEN}:{_VALUE}*\r\n){{0,{MAX_FIELDS}}})"
)
_FAST_MAX = min(MAX_REQUEST_LINE, MAX_FIELD_LINE, MAX_HEADER_SECTION)


def fast_head(head: bytes | bytearray) -> Request | None:
    """The Request of a common head, or None to leave it to the full grammar."""
    if len(head) > _FAST_MAX:
        return None
    match = _FAST_HEAD.fullmatch(head.decode("latin-1"))
    if match is None:
        return None
    headers = []
    for line in match[4].split("\r\n")[:-1]:  # each `token:value` (the match held it to that): no regex again
        name, _, value = line.partition(":")
        headers.append((name, value.strip(" \t")))
    return checked_request(match[1], match[2], match[3], headers)


def parse_head_strict(head: bytes) -> Request:
    """Every rule of RFC 9112 §2-5 and SPEC §5, line by line, raising the status each names."""
    first = head.find(b"\n")
    method, target, version = grammar.check_request_line(head[:first])
    section = head[first + 1 :]
    lines = section.split(b"\n")[:-1]
    check_section_size(section, lines)
    return checked_request(method, target, version, [grammar.check_field_line(line) for line in lines])


def checked_request(method: str, target: str, version: str, headers: list[tuple[str, str]]) -> Request:
    """The checks across fields (Host, Expect), then the Request."""
    fields = grammar.index(headers)
    grammar.check_host(version, fields)
    # by position: keywords would cost the dataclass's __init__ a third more
    return Request(method, target, version, headers, b"", grammar.expectation(version, fields), fields)


def check_section_size(section: bytes | bytearray, lines: Sequence[bytes | bytearray]) -> None:
    """431 for a field line, a field count or a header section over its limit."""
    if len(lines) > MAX_FIELDS or len(section) > MAX_HEADER_SECTION:
        raise ProtocolError(TOO_LARGE_FIELDS, "too many header fields or section too large")
    if any(len(line) - line.endswith(b"\r") > MAX_FIELD_LINE for line in lines):
        raise ProtocolError(TOO_LARGE_FIELDS, "header line too long")


def check_partial_head(buffer: bytes | bytearray) -> None:
    """Refuse an incomplete head as soon as it passes a limit (SPEC §5)."""
    line_end = buffer.find(b"\n")
    if line_end < 0:
        if grammar.method_too_long(buffer):
            raise ProtocolError(HTTPStatus.BAD_REQUEST, "method is not a token of at most 32 characters")
        if len(buffer) > MAX_REQUEST_LINE + 1:
            raise ProtocolError(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long")
        return
    grammar.check_request_line(bytes(buffer[:line_end]))
    section = buffer[line_end + 1 :]
    lines = section.split(b"\n")
    if lines[-1] in (b"", b"\r"):  # no byte of a next line yet, or the final empty line's CR
        section = section[: len(section) - len(lines.pop())]
    check_section_size(section, lines)


class LengthBody:
    """A body of Content-Length bytes."""

    def __init__(self, length: int) -> None:
        self.remaining = length
        self.body = bytearray()

    def feed(self, buffer: bytearray) -> bool:
        taken = buffer[: self.remaining]
        del buffer[: len(taken)]
        self.body += taken
        self.remaining -= len(taken)
        return self.remaining == 0


class ChunkedBody:
    """A chunked body (RFC 9112 §7.1): strict CRLFs, hex sizes, trailers read and dropped."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.step = self.size_line
        self.remaining = 0
        self.trailer_fields = 0
        self.trailer_bytes = 0

    def feed(self, buffer: bytearray) -> bool:
        """Consume what `buffer` holds; True once the last chunk and trailers are in."""
        while buffer:
            done = self.step(buffer)
            if done is not None:
                return done
        return False

    def take_line(self, buffer: bytearray, limit: int, status: HTTPStatus) -> bytes | None:
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > limit + 1:
                raise ProtocolError(status, "chunk or trailer line too long")
            return None
        if end - 1 > limit:  # the line without its CRLF
            raise ProtocolError(status, "chunk or trailer line too long")
        if buffer[end - 1 : end] != b"\r":
            raise ProtocolError(BAD, "chunk line not ended by CRLF")
        line = bytes(buffer[: end - 1])
        del buffer[: end + 1]
        if b"\r" in line:
            raise ProtocolError(BAD, "bare CR in a chunk line")
        return line

    def size_line(self, buffer: bytearray) -> bool | None:
        line = self.take_line(buffer, MAX_CHUNK_LINE, BAD)
        if line is None:
            return False
        match = _chunk_line.fullmatch(line)
        if not match or len(match[1]) > MAX_CHUNK_SIZE_DIGITS:
            raise ProtocolError(BAD, "malformed chunk size line")
        self.remaining = int(match[1], 16)
        if len(self.body) + self.remaining > MAX_BODY:
            raise ProtocolError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "chunked body over the limit")
        self.step = self.data if self.remaining else self.trailer
        return None

    def data(self, buffer: bytearray) -> bool | None:
        taken = buffer[: self.remaining]
        del buffer[: len(taken)]
        self.body += taken
        self.remaining -= len(taken)
        if not self.remaining:
            self.step = self.data_end
        return None

    def data_end(self, buffer: bytearray) -> bool | None:
        if buffer[:2] != b"\r\n"[: len(buffer[:2])]:
            raise ProtocolError(BAD, "chunk data not followed by CRLF")
        if len(buffer) < 2:
            return False
        del buffer[:2]
        self.step = self.size_line
        return None

    def trailer(self, buffer: bytearray) -> bool | None:
        line = self.take_line(buffer, MAX_FIELD_LINE, TOO_LARGE_FIELDS)
        if line is None:
            return False
        if not line:
            return True
        grammar.check_field_line(line)
        self.trailer_fields += 1
        self.trailer_bytes += len(line) + 2
        if self.trailer_fields > MAX_FIELDS or self.trailer_bytes > MAX_HEADER_SECTION:
            raise ProtocolError(TOO_LARGE_FIELDS, "trailer section too large")
        return None


def parse_chunks(chunks: Iterable[bytes]) -> tuple[list[Request], int | bool]:
    """Every request out of `chunks` fed in order, then the refusal's status or whether the parser ended idle.

    For tests and fuzzers: the same bytes, whole or split anywhere, must give the same result.
    """
    parser = RequestParser()
    requests: list[Request] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (request := parser.next_request()) is not None:
                requests.append(request)
    except ProtocolError as exc:
        return requests, int(exc.status)
    return requests, parser.idle


class RequestParser:
    """Bytes in (`feed`), Requests out (`next_request`), in order, for one connection.

    `head` is the request whose head is in and whose body is still arriving,
    so that a layer can answer `Expect: 100-continue` before reading it.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.head: Request | None = None
        self.body: LengthBody | ChunkedBody | None = None

    def feed(self, data: bytes) -> None:
        self.buffer += data

    @property
    def idle(self) -> bool:
        """No byte of a next request has arrived (blank lines do not count)."""
        return self.head is None and (not self.buffer or not self.buffer.strip(b"\r\n"))

    def next_request(self) -> Request | None:
        """The next complete Request, or None until more bytes arrive. Raises ProtocolError."""
        request = self.head or (self.read_head() if self.buffer else None)  # a head read on an earlier call, or now
        if request is None or (self.body is not None and not self.body.feed(self.buffer)):
            return None
        self.head = None
        if self.body is not None:
            request.body = bytes(self.body.body)
        return request

    def read_head(self) -> Request | None:
        """The next head, if the buffer holds it whole (kept in `head` until its body is in), else None."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        head = fast_head(buffer[: end + 2]) if end >= 0 else None  # a common head, whole: one search, one copy
        if head is not None:  # the fast grammar admits no bare LF and no leading empty line: this is its whole head
            del buffer[: end + 4]
            return self.framed(head)
        while buffer.startswith((b"\n", b"\r\n")):  # empty lines before a request (RFC 9112 §2.2)
            del buffer[: 1 if buffer[0] == 10 else 2]
        end = split_head(buffer)
        if end < 0:
            check_partial_head(buffer)
            return None
        # the fast grammar had its try above; what it matches, the full grammar reads alike (a test holds them)
        head = parse_head_strict(bytes(buffer[: end - (2 if buffer[end - 2] == 13 else 1)]))
        del buffer[:end]
        return self.framed(head)

    def framed(self, head: Request) -> Request:
        """The head is in: how its body is framed."""
        length = grammar.body_length(head.version, head.fields)
        self.head = head  # only a head whose framing is valid may be answered 100 Continue
        self.body = ChunkedBody() if length == grammar.CHUNKED else LengthBody(length) if length else None
        return head
