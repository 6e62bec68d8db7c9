"""The conformance corpus is well formed, and its client reads what it should.

Socket-free: the case files are only parsed, the response reader is fed bytes.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from pathlib import Path

import pytest

from conformance.corpus import (
    CASES_DIR,
    Answer,
    Case,
    Closed,
    Observation,
    ResponseReader,
    check,
    load_case,
    load_cases,
    normalise,
)

CASES = load_cases()
# SPEC §5 pairs these with "close" wherever they appear.
ALWAYS_CLOSING = {HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.REQUEST_URI_TOO_LONG,
                  HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED}


def _first_line(case: Case) -> bytes:
    return case.request.lstrip(b"\r\n").split(b"\n", 1)[0]


def _closing_error(case: Case) -> bool:
    """Does the case end with an error that SPEC §5 answers with "close"?

    400 is a protocol error except on /messages (the app's 400s for bad input keep
    the connection); 501 closes when it refuses a Transfer-Encoding, not a method.
    """
    if not case.expect:
        return False
    status = case.expect[-1]["status"]
    if status in ALWAYS_CLOSING:
        return True
    if status == HTTPStatus.BAD_REQUEST:
        return b" /messages" not in _first_line(case)
    if status == HTTPStatus.NOT_IMPLEMENTED:
        return b"transfer-encoding:" in case.request.lower()
    return False


def test_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


def test_every_file_loads_and_ids_are_unique() -> None:
    files = sorted(CASES_DIR.glob("*.json"))
    assert [load_case(path).id for path in files] == [case.id for case in CASES]
    ids = [case.id.lower() for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_case_is_valid(case: Case) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", case.id)
    assert case.title and case.spec
    assert case.then in ("closed", "open")
    for entry in case.expect:
        HTTPStatus(entry["status"])  # raises ValueError on an unknown status
    assert not case.unsure or case.note, "an unsure case says why in 'note'"
    if not case.expect:
        assert case.shut_write and case.then == "closed", "no answer only when the client goes away"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_closing_errors_expect_closed(case: Case) -> None:
    if _closing_error(case):
        assert case.then == "closed"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_no_case_stores_a_message(case: Case) -> None:
    """The database must not change between servers: POST /messages only fails."""
    posts = case.request.count(b"POST /messages")
    if posts:
        assert all(e["status"] >= 400 for e in case.expect)


def test_malformed_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "broken-case.json").write_text(json.dumps({"title": "x", "spec": "y", "request": "",
                                                           "expect": [], "then": "maybe"}))
    with pytest.raises(ValueError, match=r"broken-case\.json"):
        load_cases(tmp_path)


def test_request_is_latin1_bytes(tmp_path: Path) -> None:
    (tmp_path / "bytes.json").write_text(json.dumps({"title": "x", "spec": "y", "request": "\x00\xe9\xff",
                                                     "expect": [{"status": 400}], "then": "closed"}))
    assert load_cases(tmp_path)[0].request == b"\x00\xe9\xff"


# --- the client, fed bytes instead of a socket -------------------------------------


def _reader(*chunks: bytes) -> ResponseReader:
    pending = list(chunks)
    return ResponseReader(lambda size: pending.pop(0) if pending else b"")


def test_reader_splits_pipelined_responses_across_chunks() -> None:
    reader = _reader(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le",
                     b"ngth: 5\r\nDate: x\r\n\r\nhel", b"loHTTP/1.1 404 Not Found\nContent-Length: 0\n\n")
    assert reader.read_response().status == 100
    assert reader.read_response() == Answer(200, "OK", [("Content-Length", "5"), ("Date", "x")], b"hello")
    assert reader.read_response().reason == "Not Found"
    assert reader.at_eof()


def test_reader_head_response_has_no_body() -> None:
    reader = _reader(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert reader.read_response(head=True).body == b""
    assert reader.read_response().status == 204


def test_reader_chunked_and_close_delimited_bodies() -> None:
    reader = _reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                     b"HTTP/1.0 200 OK\r\n\r\nuntil eof")
    assert reader.read_response().body == b"abc"
    assert reader.read_response().body == b"until eof"


def test_reader_eof_inside_a_response_is_closed() -> None:
    with pytest.raises(Closed):
        _reader(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").read_response()


def test_reader_garbage_is_status_zero() -> None:
    answer = _reader(b"<html>no status line</html>\n").read_response()
    assert answer.status == 0 and b"no status line" in answer.body


def _case(expect: list[dict], then: str = "open") -> Case:
    return Case("x", "x", "x", b"", False, expect, then)


def test_check_reports_every_difference() -> None:
    echo = json.dumps({"method": "GET", "body_base64": ""}).encode()
    obs = Observation([Answer(200, "OK", [("Allow", "GET")], echo)], "closed")
    case = _case([{"status": 200, "headers": {"allow": "GET, HEAD"}, "echo": {"method": "POST"}},
                  {"status": 404}])
    problems = check(case, obs)
    assert len(problems) == 4, problems
    matching = _case([{"status": 200, "headers": {"allow": "GET"}, "echo": {"method": "GET"}}], "closed")
    assert check(matching, obs) == []


def test_normalise_masks_only_date_and_layer() -> None:
    headers = [("Server", "server-layers (raw_socket)"), ("Date", "Tue, 1 Jan"), ("X-A", "1")]
    answer = Answer(200, "OK", headers, b"\xe9")
    assert normalise(Observation([answer], "open")) == {
        "answers": [{"status": 200, "reason": "OK", "body": "\xe9", "headers": [
            ["date", "<date>"], ["server", "server-layers (<layer>)"], ["x-a", "1"]]}],
        "then": "open",
    }
