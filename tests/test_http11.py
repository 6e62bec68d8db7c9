"""Socket-free tests of the sans-IO parser: a table of heads and bodies, then properties."""

from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.corpus import load_cases
from http11 import ProtocolError, Request, RequestParser, Response, serialize
from http11.limits import MAX_BODY, MAX_FIELD_LINE, MAX_FIELDS, MAX_HEADER_SECTION, MAX_METHOD, MAX_REQUEST_LINE
from http11.parser import fast_head, parse_chunks, parse_head_strict, split_head

OK_HEAD = b"GET / HTTP/1.1\r\nHost: a\r\n"


def parse_all(data: bytes) -> list[Request]:
    """Every complete request in `data`; raises ProtocolError."""
    parser = RequestParser()
    parser.feed(data)
    requests = []
    while (request := parser.next_request()) is not None:
        requests.append(request)
    return requests


def status_of(data: bytes) -> int | None:
    try:
        parse_all(data)
    except ProtocolError as exc:
        return exc.status
    return None


# request bytes -> the status the parser must refuse them with (SPEC §5)
REFUSED = {
    b"GET /\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"garbage\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n": HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
    b"GET / HTTP/3.0\r\nHost: a\r\n\r\n": HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
    b"GET / HTTP/1.1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTX/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / http/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/01.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.01\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n": None,
    b"GET * HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n": None,
    b"GET a.b:443 HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n": None,
    b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a\x00 HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a%00 HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a%0D%0A HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET /?q=%00 HTTP/1.1\r\nHost: a\r\n\r\n": None,
    b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"A" * 33 + b" / HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"A" * 32 + b" / HTTP/1.1\r\nHost: a\r\n\r\n": None,
    b"GET /" + b"a" * MAX_REQUEST_LINE + b" HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.REQUEST_URI_TOO_LONG,
    OK_HEAD + b"X: " + b"a" * MAX_FIELD_LINE + b"\r\n\r\n": HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
    OK_HEAD + b"X: a\r\n" * MAX_FIELDS + b"\r\n": HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
    OK_HEAD + b"X: a\r\n" * (MAX_FIELDS - 1) + b"\r\n": None,
    OK_HEAD + (b"X: " + b"a" * 8000 + b"\r\n") * 9 + b"\r\n": HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
    OK_HEAD + b"Host : a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"X: a\r\n b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\n Host: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\n\t\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"no colon\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b": empty name\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"X: a\x00b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"X: a\x01b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"X: a\tb\r\n\r\n": None,
    OK_HEAD + b"X: caf\xe9\r\n\r\n": None,
    OK_HEAD + b"X: a\rb\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.0\r\n\r\n": None,
    OK_HEAD + b"Host: b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\nHost:\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n": None,
    OK_HEAD + b"Content-Length: +5\r\n\r\nhello": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: -5\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 5_0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 5 0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 0x5\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: \r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 005\r\n\r\nhello": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 00\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello": None,
    OK_HEAD + b"Content-Length:  5 \r\n\r\nhello": None,
    OK_HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n": HTTPStatus.NOT_IMPLEMENTED,
    OK_HEAD + b"Transfer-Encoding: gzip\r\n\r\n": HTTPStatus.NOT_IMPLEMENTED,
    OK_HEAD + b"Transfer-Encoding: identity\r\n\r\n": HTTPStatus.NOT_IMPLEMENTED,
    OK_HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n": None,
    OK_HEAD + b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1): HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5_0\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"0" * 17 + b"5\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;a=\"b\"\r\nhello\r\n0\r\n\r\n": None,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;" + b"a" * 4096 + b"\r\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n": HTTPStatus.BAD_REQUEST,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n100001\r\n": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n": None,
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX : y\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n": None,
    b"GET / HTTP/1.1\nHost: a\n\n": None,
    b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
    b"GET / HTTP/1.1\rHost: a\r\n\r\n": HTTPStatus.BAD_REQUEST,
}


@pytest.mark.parametrize("data,status", list(REFUSED.items()), ids=[repr(k[:48]) for k in REFUSED])
def test_parser_table(data, status):
    assert status_of(data) == status


def test_parses_fields_and_bodies():
    raw = (
        b"POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-Pad:   spaced value \t\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
        b"GET http://a:80/p?q HTTP/1.0\r\n\r\n"
    )
    first, second, third = parse_all(raw)
    assert (first.method, first.target, first.version, first.body) == ("POST", "/echo?x=1", "HTTP/1.1", b"hello")
    assert first.headers[1] == ("X-Pad", "spaced value")
    assert second.body == b"abcde" and second.header("transfer-encoding") == "chunked"
    assert (third.target, third.path, third.keep_alive) == ("http://a:80/p?q", "/p?q", False)


def test_limits_refuse_before_the_head_ends():
    """A limit is enforced as soon as it is passed, not when the line or head ends."""
    assert status_of(b"GET /" + b"a" * (MAX_REQUEST_LINE + 1)) == HTTPStatus.REQUEST_URI_TOO_LONG
    assert status_of(OK_HEAD + b"X: " + b"a" * MAX_FIELD_LINE) == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    assert status_of(OK_HEAD + b"X: a\r\n" * (MAX_FIELDS + 1)) == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    big = (b"X: " + b"a" * 8000 + b"\r\n") * (MAX_HEADER_SECTION // 8000 + 1)
    assert status_of(OK_HEAD + big) == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    assert status_of(b"GET /" + b"a" * (MAX_REQUEST_LINE - 10)) is None  # under the limit: wait
    assert status_of(b"A" * (MAX_METHOD + 1)) == HTTPStatus.BAD_REQUEST  # the 33rd method byte, no line end yet
    assert status_of(b"A" * MAX_METHOD) is None  # 32 bytes may still be a method
    assert status_of(b"\r\n" + b"A" * MAX_METHOD) is None  # an empty line before the request does not count
    assert status_of(b"A" * 100_000) == HTTPStatus.BAD_REQUEST  # a bad method, not a long line (414)


@pytest.mark.parametrize("length,status", [
    ("9223372036854775807", HTTPStatus.REQUEST_ENTITY_TOO_LARGE),  # 2**63 - 1: representable, over the limit
    ("9223372036854775808", HTTPStatus.BAD_REQUEST),  # 2**63: does not fit in 63 bits
    ("9" * 5000, HTTPStatus.BAD_REQUEST),  # past int()'s 4300 digits: refused, never a ValueError
])
def test_content_length_past_63_bits_is_unparseable_framing(length, status):
    assert status_of(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + length.encode() + b"\r\n\r\n") == status


def test_expect_and_idle_state():
    parser = RequestParser()
    assert parser.idle
    parser.feed(b"\r\n")
    assert parser.idle
    parser.feed(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert parser.next_request() is None and parser.head.expect == "continue" and not parser.idle
    parser.feed(b"ok")
    assert parser.next_request().body == b"ok" and parser.idle


def test_serialize_frames_responses():
    data = serialize(Response(HTTPStatus.OK, [("Content-Type", "text/plain")], b"hi"),
                     server="s", date="d", connection="close")
    assert data == (b"HTTP/1.1 200 OK\r\nDate: d\r\nServer: s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                    b"Connection: close\r\n\r\nhi")
    not_modified = serialize(Response(HTTPStatus.NOT_MODIFIED), server="s", date="d", connection=None)
    assert b"Content-Length" not in not_modified


# --- properties --------------------------------------------------------------------

VALID = [k for k, v in REFUSED.items() if v is None]
ANY_REQUEST = st.one_of(st.sampled_from(list(REFUSED)), st.binary(max_size=300))


outcome = parse_chunks


@settings(max_examples=400, deadline=None)
@given(st.one_of(ANY_REQUEST, st.sampled_from(VALID).map(lambda v: v * 3)), st.data())
def test_split_anywhere_gives_the_same_result(data, draw):
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=6)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert outcome(chunks) == outcome([data])


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` with one byte replaced, inserted or deleted."""
    index = st.integers(0, max(0, len(data) - 1))
    byte = st.binary(min_size=1, max_size=1)
    return st.one_of(
        st.tuples(index, byte).map(lambda t: data[: t[0]] + t[1] + data[t[0] + 1 :]),
        st.tuples(index, byte).map(lambda t: data[: t[0]] + t[1] + data[t[0] :]),
        index.map(lambda i: data[:i] + data[i + 1 :]),
    )


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=500), st.sampled_from(list(REFUSED)).flatmap(mutations)))
def test_any_bytes_parse_or_raise_protocol_error(data):
    try:
        parse_all(data)
    except ProtocolError as exc:
        assert exc.status >= 400


# --- the fast head path and the full grammar ---------------------------------------------


def first_head(data: bytes) -> bytes | None:
    """The first head in `data` as RequestParser hands it to its grammars, or None if incomplete."""
    data = data.lstrip(b"\r\n") if data[:1] in (b"\r", b"\n") else data
    end = split_head(data)
    return data[: end - (2 if data[end - 2] == 13 else 1)] if end >= 0 else None


def head_outcome(parse, head: bytes):
    """What `parse` makes of a head: (Request, its fields), or the refusal's status; None if it passes."""
    try:
        request = parse(head)
    except ProtocolError as exc:
        return int(exc.status)
    return None if request is None else (request, request.fields)


def test_the_fast_head_path_agrees_with_the_full_grammar_on_the_corpus():
    """Every corpus head the one-regex path takes, the full grammar parses to the same Request."""
    heads = [head for case in load_cases() if (head := first_head(case.request)) is not None]
    taken = 0
    for head in heads:
        fast = head_outcome(fast_head, head)
        if fast is not None:
            taken += 1
            assert fast == head_outcome(parse_head_strict, head), head
    assert taken >= len(heads) // 3  # the fast path is really exercised (most valid heads)
    assert taken < len(heads)  # and it leaves the odd ones to the full grammar
