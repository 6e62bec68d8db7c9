"""Fuzzing: the sans-IO parser on built and mutated requests, then the layers side by side.

Part 1 builds *valid* requests from the grammar (methods, every target form,
fields with optional white space, Content-Length or chunked bodies with
extensions and trailers, CRLF or bare-LF heads, pipelines), then mutates them
(bytes inserted, deleted or replaced, fields added, dropped or duplicated, line
ends shifted, white space around colons, numbers off by a few, truncation) and
feeds the result whole and in random pieces. Properties:

- a valid pipeline parses to exactly what was built, whole or split anywhere;
- any input gives Requests or the parser's own ProtocolError (a SPEC §5 status), nothing else;
- whole or split, the outcome is the same; what precedes a mutation still parses as built;
- a limit moved one byte either side flips between parsing and its status.

Part 2 sends generated requests (valid and mutated, deterministic routes only:
/echo, /plaintext, /nope, OPTIONS *, HEAD; never POST /messages) to the layers
running side by side and requires identical answers after `normalise`.

The long parser run is a command of its own: `tools/fuzz_parser.py`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
from helpers import ROOT
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from test_http11 import first_head, head_outcome

from bench.catalog import DEFAULT_MODEL, EVENT_LOOP_VARIANTS
from conformance.corpus import PROBE, PROBE_BODY, Closed, Observation, ResponseReader, load_cases, normalise
from http11 import Request
from http11.limits import (
    MAX_BODY,
    MAX_CHUNK_LINE,
    MAX_CHUNK_SIZE_DIGITS,
    MAX_FIELD_LINE,
    MAX_FIELDS,
    MAX_HEADER_SECTION,
    MAX_METHOD,
    MAX_REQUEST_LINE,
)
from http11.parser import fast_head, parse_chunks, parse_head_strict

pytestmark = pytest.mark.stress

# Every status the parser may refuse a request with (SPEC §5).
PARSER_STATUSES = {400, 413, 414, 431, 501, 505}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the grammar, as strategies -------------------------------------------------------

DIGIT = "0123456789"
HEX = DIGIT + "abcdefABCDEF"
ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TCHAR = "!#$%&'*+-.^_`|~" + DIGIT + ALPHA
PCHAR = ALPHA + DIGIT + "-._~!$&'()*+,;=:@"  # pchar without pct-encoded
REG_NAME = ALPHA + DIGIT + "-._~!$&'()*+;="  # the Host grammar of http11 (no ',')
VALUE_CHARS = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0x80, 0x100)] + [" ", "\t"]
QDTEXT = [chr(c) for c in (0x09, 0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F), *range(0x80, 0x100))]
FRAMING = {"host", "content-length", "transfer-encoding", "expect"}
COMMON_NAMES = ["Accept", "User-Agent", "X-Test", "Cookie", "Cache-Control", "Accept-Encoding", "Via", "TE",
                "Trailer", "Upgrade", "Content-Type", "If-Modified-Since", "X_Under", "x-lower"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]

token = st.text(TCHAR, min_size=1, max_size=12)
ows = st.sampled_from(["", "", " ", "  ", "\t", " \t "])
eol = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])
PCT = ["%" + a + b for a in HEX for b in HEX]
pct_any = st.sampled_from(PCT)
pct_path = st.sampled_from([p for p in PCT if p[1:].lower() not in ("00", "0a", "0d")])  # decoded NUL/CR/LF: 400


@st.composite
def origin_targets(draw) -> str:
    path = "/" + "".join(draw(st.lists(st.one_of(st.sampled_from(PCHAR + "/"), pct_path), max_size=10)))
    if draw(st.booleans()):
        path += "?" + "".join(draw(st.lists(st.one_of(st.sampled_from(PCHAR + "/?"), pct_any), max_size=8)))
    return path


host_names = st.one_of(
    st.text(HEX + ":.", min_size=1, max_size=12).map(lambda inner: f"[{inner}]"),
    st.lists(st.one_of(st.sampled_from(REG_NAME), pct_any), min_size=1, max_size=10).map("".join),
)
hosts = st.tuples(host_names, st.one_of(st.just(""), st.text(DIGIT, max_size=5).map(lambda port: ":" + port))).map(
    "".join)


@st.composite
def absolute_targets(draw) -> str:
    scheme = draw(st.sampled_from(["http", "https"]) | st.text(ALPHA, min_size=1, max_size=1).flatmap(
        lambda first: st.text(ALPHA + DIGIT + "+-.", max_size=5).map(lambda rest: first + rest)))
    rest = draw(st.sampled_from(["", "path", "query"]))
    tail = "" if rest == "" else draw(origin_targets())
    if rest == "query":
        tail = "?" + tail.partition("?")[2]
    return f"{scheme}://{draw(hosts)}{tail}"


@st.composite
def methods_and_targets(draw) -> tuple[str, str]:
    method = draw(st.sampled_from(METHODS) | token | st.text(TCHAR, min_size=MAX_METHOD, max_size=MAX_METHOD))
    form = draw(st.sampled_from(["origin", "origin", "origin", "absolute", "asterisk", "authority"]))
    if form == "asterisk":
        return "OPTIONS", "*"
    if form == "authority":
        return "CONNECT", f"{draw(host_names)}:{draw(st.text(DIGIT, min_size=1, max_size=5))}"
    if method == "CONNECT":
        method = "GET"
    return method, draw(origin_targets() if form == "origin" else absolute_targets())


@st.composite
def live_methods_and_targets(draw) -> tuple[str, str]:
    """Deterministic routes only; never POST /messages (no state may diverge between servers)."""
    path = draw(st.sampled_from(["/echo", "/echo", "/echo?a=1&b=%20", "/plaintext", "/nope", "/test.jpg", "*",
                                 "http://example.test/echo", "/echo/"]))
    if path == "*":
        return draw(st.sampled_from(["OPTIONS", "OPTIONS", "GET"])), path
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW"]))
    return method, path


field_values = st.text(VALUE_CHARS, max_size=20).map(lambda v: v.strip(" \t"))
field_names = (token | st.sampled_from(COMMON_NAMES)).filter(lambda n: n.lower() not in FRAMING)


@dataclass
class Built:
    """A request as bytes, piece by piece, and the Request the parser must make of them."""

    pieces: list[bytes]
    kinds: list[str]  # per piece: lead, line, field, end, size, data, crlf, trailer
    request: Request

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


def field_line(draw, name: str, value: str) -> bytes:
    return f"{name}:{draw(ows)}{value}{draw(ows)}".encode("latin-1") + draw(eol)


def extensions(draw) -> bytes:
    out = ""
    for _ in range(draw(st.integers(0, 2))):
        out += draw(st.sampled_from(["", " ", "\t"])) + ";" + draw(st.sampled_from(["", " "])) + draw(token)
        if draw(st.booleans()):
            if draw(st.booleans()):
                value = draw(token)
            else:
                inner = draw(st.lists(st.sampled_from(QDTEXT) | st.sampled_from([*QDTEXT, '"', "\\"]).map(
                    lambda c: "\\" + c), max_size=6))
                value = '"' + "".join(inner) + '"'
            out += draw(st.sampled_from(["", " "])) + "=" + draw(st.sampled_from(["", "\t"])) + value
    return out.encode("latin-1")


def chunk_size(draw, size: int) -> bytes:
    digits = f"{size:x}"
    digits = "0" * draw(st.integers(0, MAX_CHUNK_SIZE_DIGITS - len(digits))) + digits
    return (digits.upper() if draw(st.booleans()) else digits).encode("ascii")


@st.composite
def requests(draw, live: bool = False, max_body: int = 64) -> Built:
    method, target = draw(live_methods_and_targets() if live else methods_and_targets())
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    fields: list[tuple[str, str]] = [(draw(field_names), draw(field_values)) for _ in range(draw(st.integers(0, 4)))]
    if live and draw(st.booleans()):
        fields.append(("Connection", draw(st.sampled_from(["close", "keep-alive", "Keep-Alive", "upgrade, close"]))))
    if version == "HTTP/1.1" or draw(st.booleans()):
        fields.append((draw(st.sampled_from(["Host", "host", "HOST"])), "example.test" if live else draw(hosts)))
    framing = draw(st.sampled_from(["none", "length", "chunked"] if version == "HTTP/1.1" else ["none", "length"]))
    if live and method in ("GET", "HEAD", "OPTIONS", "TRACE") and draw(st.booleans()):
        framing = "none"
    body = draw(st.binary(max_size=max_body)) if framing != "none" else b""
    if framing == "length":
        twice = draw(st.sampled_from(["", "", "", "list", "fields"]))  # the same length twice is one length
        fields.append(("Content-Length", f"{len(body)}, {len(body)}" if twice == "list" else str(len(body))))
        if twice == "fields":
            fields.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        fields.append(("Transfer-Encoding", draw(st.sampled_from(["chunked", "Chunked", "CHUNKED"]))))
    expect = None
    if version == "HTTP/1.1" and draw(st.integers(0, 5)) == 0:
        fields.append(("Expect", draw(st.sampled_from(["100-continue", "100-Continue"]))))
        expect = "continue"
    fields = draw(st.permutations(fields))

    pieces = [draw(eol) for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0)]
    kinds = ["lead"] * len(pieces)
    pieces.append(f"{method} {target} {version}".encode("latin-1") + draw(eol))
    kinds.append("line")
    for name, value in fields:
        pieces.append(field_line(draw, name, value))
        kinds.append("field")
    pieces.append(draw(eol))
    kinds.append("end")
    if framing == "length":
        pieces.append(body)
        kinds.append("data")
    elif framing == "chunked":
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=3)))) if len(body) > 1 else []
        for part in [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)] if body else []:
            pieces += [chunk_size(draw, len(part)) + extensions(draw) + b"\r\n", part, b"\r\n"]
            kinds += ["size", "data", "crlf"]
        pieces.append(chunk_size(draw, 0) + extensions(draw) + b"\r\n")
        kinds.append("size")
        for _ in range(draw(st.integers(0, 2))):
            pieces.append(f"{draw(token)}:{draw(ows)}{draw(field_values)}".encode("latin-1") + b"\r\n")
            kinds.append("trailer")
        pieces.append(b"\r\n")
        kinds.append("end")
    return Built(pieces, kinds, Request(method, target, version, list(fields), body, expect))


def pipelines(live: bool = False, max_size: int = 4) -> st.SearchStrategy[list[Built]]:
    return st.lists(requests(live=live), min_size=1, max_size=max_size)


# --- mutations ------------------------------------------------------------------------

NASTY_FIELDS = [
    b"Host: other.test\r\n", b"Host:\r\n", b"Content-Length: 3\r\n", b"Content-Length: 1, 2\r\n",
    b"Content-Length: +1\r\n", b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n", b"X: a\x00b\r\n", b" folded\r\n", b"\tfolded\r\n",
    b"no colon\r\n", b"X : y\r\n", b": empty\r\n", b"X:\x0by\r\n", b"Expect: nothing\r\n",
    b"Expect: 100-continue\r\n", b"Connection: close\r\n", b"X: \x85\xa0\r\n", b"X: a\rb\r\n", b" \r\n",
]
INTERESTING = list(b"\r\n \t:;=\",\\\x00\x0b\x7f\x80\x85\xff0aF%/?#@*")
LINE_ENDS = [b"\n", b"\r\n", b"\r", b"\r\r\n", b"\n\r", b"", b"\r\n\r\n", b" \r\n"]
VERSIONS = [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/01.1", b"HTTP/1.1 ", b"HTTP/1", b"http/1.1", b"HTTP/1.10", b"HTTP/0.9"]
_number = re.compile(rb"[0-9A-Fa-f]+")


def _line_end(piece: bytes) -> int:
    """Where `piece`'s line terminator starts (len(piece) if none)."""
    body = piece.rstrip(b"\r\n")
    return len(body)


def mutate_piece(draw, pieces: list[bytes], kinds: list[str]) -> None:
    """One structural mutation of the pieces, in place."""
    index = draw(st.integers(0, len(pieces) - 1))
    piece, kind = pieces[index], kinds[index]
    op = draw(st.sampled_from(["drop", "duplicate", "insert_field", "line_end", "colon_space", "fold", "value_ws",
                               "case", "number", "swap", "version", "cr"]))
    if op == "drop":
        del pieces[index], kinds[index]
    elif op == "duplicate":
        pieces.insert(index, piece)
        kinds.insert(index, kind)
    elif op == "insert_field":
        line = draw(st.sampled_from(NASTY_FIELDS) | st.builds(
            lambda n, v: f"{n}: {v}\r\n".encode("latin-1"), field_names, field_values))
        pieces.insert(index, line)
        kinds.insert(index, "field")
    elif op == "line_end":
        cut = _line_end(piece)
        pieces[index] = piece[:cut] + draw(st.sampled_from(LINE_ENDS))
    elif op == "colon_space" and b":" in piece:
        name, _, rest = piece.partition(b":")
        pieces[index] = name + draw(st.sampled_from([b" ", b"\t", b"  "])) + b":" + rest
    elif op == "fold":
        pieces[index] = draw(st.sampled_from([b" ", b"\t"])) + piece
    elif op == "value_ws":
        cut = _line_end(piece)
        space = draw(st.sampled_from([b" ", b"\t", b"\x0b", b"\x0c", b"\x00", b" \t"]))
        pieces[index] = piece[:cut] + space + piece[cut:]
    elif op == "case":
        pieces[index] = piece.lower() if draw(st.booleans()) else piece.upper()
    elif op == "number":
        numbers = list(_number.finditer(piece))
        if numbers:
            match = draw(st.sampled_from(numbers))
            base = 16 if kind == "size" else 10
            try:
                value = int(match[0], base) + draw(st.sampled_from([-2, -1, 1, 2, 10]))
            except ValueError:
                return
            text = (f"{value:x}" if base == 16 else str(value)).encode()
            pieces[index] = piece[: match.start()] + text + piece[match.end() :]
    elif op == "swap" and index + 1 < len(pieces):
        pieces[index], pieces[index + 1] = pieces[index + 1], pieces[index]
        kinds[index], kinds[index + 1] = kinds[index + 1], kinds[index]
    elif op == "version" and b" HTTP/1." in piece:
        start = piece.rfind(b" HTTP/1.") + 1
        pieces[index] = piece[:start] + draw(st.sampled_from(VERSIONS)) + piece[start + 8 :]
    elif op == "cr":
        at = draw(st.integers(0, len(piece)))
        pieces[index] = piece[:at] + b"\r" + piece[at:]


def mutate_bytes(draw, data: bytes) -> bytes:
    """One byte-level mutation: replace, insert, delete, or truncate."""
    op = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    byte = bytes([draw(st.sampled_from(INTERESTING) | st.integers(0, 255))])
    if op == "replace":
        return data[:at] + byte + data[at + 1 :]
    if op == "insert":
        return data[:at] + byte + data[at:]
    if op == "delete":
        return data[:at] + data[at + 1 :]
    return data[:at]


@st.composite
def mutated(draw, live: bool = False) -> tuple[list[Built], bytes]:
    """A built pipeline and the bytes of a mutation of it (1-4 mutations)."""
    built = draw(pipelines(live=live, max_size=3))
    pieces = [piece for request in built for piece in request.pieces]
    kinds = [kind for request in built for kind in request.kinds]
    for _ in range(draw(st.integers(0, 2))):
        if pieces:
            mutate_piece(draw, pieces, kinds)
    data = b"".join(pieces)
    for _ in range(draw(st.integers(0 if data != b"".join(p for r in built for p in r.pieces) else 1, 2))):
        data = mutate_bytes(draw, data)
    return built, data


def split(draw, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    if draw(st.integers(0, 9)) == 0:
        cuts = list(range(len(data) + 1))  # a byte at a time
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def outcome(chunks: list[bytes]) -> tuple[list[Request], int | bool]:
    """Requests out of `chunks` fed one by one, then the error's status or whether the parser is idle.

    Any exception other than ProtocolError propagates: that is a failure.
    """
    requests_out, state = parse_chunks(chunks)
    assert type(state) is bool or state in PARSER_STATUSES, state
    return requests_out, state


# --- part 1: the parser -----------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(pipelines(), st.data())
def test_valid_pipelines_parse_to_what_was_built(built, data):
    raw = b"".join(request.data for request in built)
    expected = [request.request for request in built]
    assert outcome([raw]) == (expected, True)
    assert outcome(split(data.draw, raw)) == (expected, True)


@settings(FUZZ, max_examples=1000)
@given(mutated(), st.data())
def test_mutated_requests_parse_or_are_refused_alike_whole_or_split(case, data):
    built, raw = case
    note(f"bytes: {raw!r}")
    whole = outcome([raw])
    assert outcome(split(data.draw, raw)) == whole
    # whatever precedes the first changed byte was parsed as built
    original = b"".join(request.data for request in built)
    # strict=False: the mutation may lengthen or shorten raw, so the two differ in length
    same = next((i for i, (a, b) in enumerate(zip(original, raw, strict=False)) if a != b),
                min(len(original), len(raw)))
    end, intact = 0, []
    for request in built:
        end += len(request.data)
        if end > same:
            break
        intact.append(request.request)
    assert whole[0][: len(intact)] == intact


# (limit, bytes one byte over it at delta 1, the status) -- built for a given delta
@settings(FUZZ, max_examples=1000)
@given(st.one_of(pipelines().map(lambda built: b"".join(r.data for r in built)), mutated().map(lambda case: case[1])))
def test_the_fast_head_path_gives_what_the_full_grammar_gives(data):
    """Built and mutated heads: where the one-regex path answers, the full grammar answers the same."""
    head = first_head(data)
    assume(head is not None)
    fast = head_outcome(fast_head, head)
    note(f"fast path {'taken' if fast is not None else 'passed'}: {head!r}")
    if fast is not None:
        assert fast == head_outcome(parse_head_strict, head)


def _limit_probe(limit: str, delta: int, crlf: bytes) -> tuple[bytes, int, int]:
    """Bytes at `delta` from a limit, the status if over, and where the over-long line starts (-1: none)."""
    head = b"GET / HTTP/1.1" + crlf + b"Host: a" + crlf
    if limit == "request-line":
        line = b"GET /" + b"a" * (MAX_REQUEST_LINE + delta - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
        return line + crlf + b"Host: a" + crlf + crlf, 414, 0
    if limit == "method":
        return b"M" * (MAX_METHOD + delta) + b" / HTTP/1.1" + crlf + b"Host: a" + crlf + crlf, 400, -1
    if limit == "field-line":
        return head + b"X: " + b"v" * (MAX_FIELD_LINE + delta - 3) + crlf + crlf, 431, len(head)
    if limit == "field-count":
        return head + (b"X: v" + crlf) * (MAX_FIELDS - 1 + delta) + crlf, 431, -1
    if limit == "section":
        target = MAX_HEADER_SECTION + delta - len(b"Host: a" + crlf)  # bytes of the other field lines
        lines, size = [], 8000
        while target > 0:
            part = min(size, target)
            lines.append(b"X: " + b"v" * (part - 3 - len(crlf)) + crlf)
            target -= part
        return head + b"".join(lines) + crlf, 431, -1
    if limit == "body":
        size = MAX_BODY + delta
        chunked = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        return chunked + b"%x\r\n" % size + b"b" * size + b"\r\n0\r\n\r\n", 413, -1
    if limit == "content-length":
        size = MAX_BODY + delta
        return head + b"Content-Length: %d" % size + crlf + crlf + b"b" * size * (delta <= 0), 413, -1
    if limit == "trailer-line":  # a trailer field line is held to the field line limit
        chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        return chunked + b"X: " + b"t" * (MAX_FIELD_LINE + delta - 3) + b"\r\n\r\n", 431, -1
    if limit == "chunk-line":
        chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        return chunked + b"1;" + b"e" * (MAX_CHUNK_LINE + delta - 2) + b"\r\nx\r\n0\r\n\r\n", 400, -1
    assert limit == "chunk-digits"
    chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    return chunked + b"0" * (MAX_CHUNK_SIZE_DIGITS + delta - 1) + b"1\r\nx\r\n0\r\n\r\n", 400, -1


LIMITS = ["request-line", "method", "field-line", "field-count", "section", "body", "content-length", "chunk-line",
          "chunk-digits", "trailer-line"]


@settings(FUZZ, max_examples=200)
@given(st.sampled_from(LIMITS), st.integers(-2, 2), st.sampled_from([b"\r\n", b"\n"]), st.data())
def test_a_limit_moved_by_a_byte_flips_between_parsing_and_its_status(limit, delta, crlf, data):
    raw, status, line_start = _limit_probe(limit, delta, crlf)
    expected = status if delta > 0 else True
    requests_out, state = outcome([raw])
    assert state == expected and len(requests_out) == (delta <= 0)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=5)))
    assert outcome([raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]) == (requests_out, state)
    if delta > 0 and line_start >= 0:  # refused before the line ends (one byte of slack for a CR)
        limit_bytes = MAX_REQUEST_LINE if limit == "request-line" else MAX_FIELD_LINE
        assert outcome([raw[: line_start + limit_bytes + 2]]) == ([], status)


def test_fuzz_parser_tool_runs_clean():
    """The long run's command works (a short run of it here)."""
    result = subprocess.run(
        [sys.executable, "tools/fuzz_parser.py", "--count", "3000", "--jobs", "1", "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^3000 inputs, 0 violations", result.stdout, re.M), result.stdout


# --- part 2: the layers side by side ----------------------------------------------------

# Every layer's default model, and every event-loop model beside them (raw_socket's selectors, asyncio's two).
LIVE_GROUP = list(dict.fromkeys([*DEFAULT_MODEL.items(), *EVENT_LOOP_VARIANTS]))
READ_TIMEOUT_S = 2.0
PIECE_PAUSE_S = 0.01
LIVE_EXAMPLES = int(os.environ.get("FUZZ_LIVE_EXAMPLES", "250"))  # a longer run: FUZZ_LIVE_EXAMPLES=5000


@pytest.fixture(scope="module")
def live_group(start_server):
    with ExitStack() as stack:
        yield [stack.enter_context(start_server(variant)) for variant in LIVE_GROUP]


@dataclass
class Plan:
    """How to read a conversation, decided from the bytes alone (the same for every server)."""

    heads: list[bool] = field(default_factory=list)  # per final response: does it answer a HEAD?
    finals: int = 0  # final responses to read before probing the connection
    shut: bool = False  # half-close after sending, then read to EOF


def plan_for(raw: bytes, shut: bool) -> Plan:
    """http11's reading of the bytes says which responses answer a HEAD and how many to wait for."""
    parsed, state = outcome([raw])
    finals = 0
    for request in parsed:
        finals += 1
        if not request.keep_alive:
            break
    else:
        finals += type(state) is int  # the error answered last
    complete = state is True or type(state) is int
    return Plan([r.method == "HEAD" for r in parsed], finals, shut or not complete)


def observe(server, raw: bytes, plan: Plan, cuts: list[int] = ()) -> Observation:
    """Send `raw` on a fresh connection (in pieces at `cuts`, a pause between them); read the answers;
    then EOF, or probe the connection with GET /plaintext."""
    with socket.create_connection((server.host, server.port), timeout=READ_TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for number, (start, end) in enumerate(zip([0, *cuts], [*cuts, len(raw)], strict=True)):
                if number:
                    time.sleep(PIECE_PAUSE_S)
                sock.sendall(raw[start:end])
            if plan.shut:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed early: its answer may still be there
        reader = ResponseReader(sock.recv)
        answers, finals = [], 0
        while plan.shut or finals < plan.finals:
            try:
                answer = reader.read_response(head=finals < len(plan.heads) and plan.heads[finals])
            except Closed:
                return Observation(answers, "closed")
            except TimeoutError:
                return Observation(answers, "timeout")
            answers.append(answer)
            if answer.status == 0:
                return Observation(answers, "closed" if reader.eof else "timeout")
            finals += answer.status >= 200
            if len(answers) > 20:
                return Observation(answers, "runaway")
        try:
            sock.sendall(PROBE)
        except OSError:
            return Observation(answers, "closed")
        extra = []
        for _ in range(5):
            try:
                answer = reader.read_response()
            except Closed:
                return Observation(answers, "closed", extra)
            except TimeoutError:
                return Observation(answers, "timeout", extra)
            if answer.status == 200 and answer.body == PROBE_BODY:
                return Observation(answers, "open", extra)
            extra.append(answer)
        return Observation(answers, "open", extra)


def compare_layers(group, raw: bytes, shut: bool, cuts: list[int] = ()) -> None:
    plan = plan_for(raw, shut)
    seen = {f"{s.layer}/{s.model}": normalise(observe(s, raw, plan, cuts)) for s in group}
    first = next(iter(seen.values()))
    assert seen == dict.fromkeys(seen, first), f"bytes: {raw[:2000]!r} sent in pieces at {list(cuts)}; {plan}"


@settings(FUZZ, max_examples=LIVE_EXAMPLES)
@pytest.mark.timeout(900)
@pytest.mark.xdist_group("fuzz-live")
@given(st.one_of(pipelines(live=True, max_size=3).map(lambda b: b"".join(r.data for r in b)),
                 mutated(live=True).map(lambda case: case[1])),
       st.integers(0, 3), st.data())
def test_layers_answer_generated_requests_alike(live_group, raw, shut, data):
    assume(b"/messages" not in raw)  # no state may diverge between the servers
    pieces = data.draw(st.sampled_from([0, 0, 1, 2]))  # most whole; else in 2-3 pieces, paused between
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(raw) - 1)), min_size=pieces, max_size=pieces))))
    compare_layers(live_group, raw, shut == 0, cuts)


@pytest.mark.xdist_group("fuzz-live")
@pytest.mark.parametrize("limit", LIMITS)
def test_layers_answer_a_limit_a_byte_either_side_alike(live_group, limit):
    for delta in (0, 1):
        raw, _, _ = _limit_probe(limit, delta, b"\r\n")
        for cuts in ([], [len(raw) // 3, len(raw) * 2 // 3]):  # whole, then in three pieces
            compare_layers(live_group, raw, False, cuts)


def hostile_inputs() -> list[bytes]:
    """Every corpus request, and each cut short at a third and with a byte flipped there: bad input of every kind."""
    inputs = []
    for case in load_cases():
        raw = case.request
        cut = len(raw) // 3
        inputs += [raw, raw[:cut], raw[:cut] + bytes([raw[cut] ^ 0x5A]) + raw[cut + 1 :]] if raw else []
    return inputs


def send_and_hang_up(server, raw: bytes) -> None:
    """Send, half-close, read until the server closes (or a second passes)."""
    with socket.create_connection((server.host, server.port), timeout=1.0) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass  # a reset or a timeout is an answer too; only the server's log is judged here


@pytest.mark.xdist_group("fuzz-live")
def test_layers_log_no_traceback_under_hostile_input(start_server):
    """Servers of its own (so the test never passes on servers that saw nothing), each fed every input."""
    inputs = hostile_inputs()
    with ExitStack() as stack:
        group = [stack.enter_context(start_server(variant)) for variant in LIVE_GROUP]
        for server in group:
            for raw in inputs:
                send_and_hang_up(server, raw)
            send_and_hang_up(server, PROBE)
        stderr = {f"{s.layer}/{s.model}": (s.process.poll(), s.stderr()) for s in group}
    assert len(inputs) > 600
    for name, (exit_status, log) in stderr.items():
        assert exit_status is None, f"{name} died: {log[-2000:]}"
        assert "Traceback" not in log, f"{name}: {log[-2000:]}"

