"""serving.session, sans-IO: what one connection's Session holds while its answers wait to be sent (SPEC §4)."""

from pathlib import Path

import pytest

from conformance.corpus import ResponseReader
from http11.limits import FILE_PIECE, OUTPUT_BUDGET
from serving.contract import ServerOptions
from serving.lifecycle import Lifecycle
from serving.session import Session
from webapp import App
from webapp.static import STATIC_DIR

LARGE = STATIC_DIR / "large.jpg"


@pytest.fixture
def session(tmp_path: Path):
    options = ServerOptions(layer="test", host="127.0.0.1", port=0, model="threaded", data_dir=tmp_path,
                            keepalive_timeout=5, header_timeout=10, send_timeout=10, backlog=64, access_log=False,
                            nodelay=True, keepalive=True, max_connections=64)
    app = App(tmp_path)
    yield Session(app, options, Lifecycle(), ("127.0.0.1", 50000))
    app.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode()


def test_a_large_file_is_given_a_piece_at_a_time_as_each_is_asked_for(session):
    """A slow reader costs the layer at most one piece beyond the head: never the budget and the file whole."""
    size = LARGE.stat().st_size
    assert size > OUTPUT_BUDGET + FILE_PIECE
    given = [session.receive(get("/static/large.jpg"))]
    while piece := session.more():
        given.append(piece)
    head_length = given[0].index(b"\r\n\r\n") + 4
    assert len(given[0]) <= head_length + FILE_PIECE and all(len(piece) <= FILE_PIECE for piece in given[1:])
    chunks = iter([b"".join(given)])
    answer = ResponseReader(lambda _size: next(chunks, b"")).read_response()
    assert answer.status == 200 and answer.body == LARGE.read_bytes()


def test_pipelined_requests_are_answered_one_per_call_and_the_rest_stay_unparsed(session):
    """64 KiB of pipelined requests: one answer now, the next only when the layer asks for it."""
    one = get("/plaintext")
    count = 65536 // len(one)
    first = session.receive(one * count)
    assert first.count(b"HTTP/1.1 200") == 1
    answers = 1
    while session.more():
        answers += 1
    assert answers == count
