"""SPEC §4 over real sockets, on every layer x model: keep-alive, pipelining, timeouts, 100-continue, stop."""

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from helpers import ROOT, header, wait_for

from conformance.corpus import ResponseReader
from http11.limits import MAX_REQUEST_LINE, OUTPUT_BUDGET

KEEPALIVE_S, HEADER_S, SEND_S = 0.5, 1.0, 1.0
LARGE = ROOT / "webapp" / "static" / "large.jpg"  # larger than the output budget: sent in pieces


@pytest.fixture(scope="module")
def quick_server(variant, start_server):
    """A server whose idle and header timeouts are short enough to wait for."""
    with start_server(variant, "--keepalive-timeout", str(KEEPALIVE_S), "--header-timeout", str(HEADER_S)) as running:
        yield running


def answers_no_more(sock: socket.socket) -> bool:
    """True when the connection is closed now: a further request gets no answer, only EOF or a reset.

    A server that wrongly kept it open would answer the probe, so this needs no clock.
    """
    try:
        sock.sendall(request())
    except OSError:
        return True
    return closed_by_peer(sock)


def closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    """True when the server closes the connection (EOF or reset) without sending more."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def request(target="/plaintext", version="HTTP/1.1", extra="") -> bytes:
    host = "Host: a\r\n" if version == "HTTP/1.1" else ""
    return f"GET {target} {version}\r\n{host}{extra}\r\n".encode()


def test_keep_alive_serves_several_requests_on_one_connection(server):
    with server.connect() as sock:
        reader = ResponseReader(sock.recv)
        for _ in range(3):
            sock.sendall(request())
            answer = reader.read_response()
            assert answer.body == b"Hello, World!" and header(answer, "connection") is None


def test_connection_close_is_honoured(server):
    with server.connect() as sock:
        sock.sendall(request(extra="Connection: close\r\n"))
        answer = ResponseReader(sock.recv).read_response()
        assert header(answer, "connection") == "close"
        assert answers_no_more(sock)


def test_http10_closes_unless_keep_alive(server):
    with server.connect() as sock:
        sock.sendall(request(version="HTTP/1.0"))
        assert ResponseReader(sock.recv).read_response().status == 200
        assert answers_no_more(sock)
    with server.connect() as sock:
        reader = ResponseReader(sock.recv)
        sock.sendall(request(version="HTTP/1.0", extra="Connection: keep-alive\r\n"))
        assert header(reader.read_response(), "connection") == "keep-alive"
        sock.sendall(request(version="HTTP/1.0"))
        assert reader.read_response().status == 200
        assert answers_no_more(sock)


def test_pipelined_requests_are_answered_in_order(server):
    batch = b"".join(request(f"/echo?n={n}") for n in range(5))
    answers = server.exchange(batch, count=5)
    assert [json.loads(a.body)["target"] for a in answers] == [f"/echo?n={n}" for n in range(5)]


def test_a_large_file_comes_whole_among_pipelined_requests(server):
    large = LARGE.read_bytes()
    assert len(large) > OUTPUT_BUDGET
    batch = (request("/static/large.jpg") + b"HEAD /static/large.jpg HTTP/1.1\r\nHost: a\r\n\r\n"
             + request("/plaintext") + request("/static/large.jpg", extra="Connection: close\r\n"))
    with server.connect() as sock:
        sock.sendall(batch)
        reader = ResponseReader(sock.recv)
        first, head, plain, last = (reader.read_response(head=n == 1) for n in range(4))
        assert first.body == large and last.body == large and plain.body == b"Hello, World!"
        assert head.status == 200 and head.body == b"" and header(head, "content-length") == str(len(large))
        assert header(last, "connection") == "close" and closed_by_peer(sock)
    server.exchange(request("/plaintext"))  # the loop has run what the close scheduled
    assert "Traceback" not in server.stderr()


@pytest.fixture(scope="module")
def stalling_server(variant, start_server):
    """A server whose send timeout is short enough to wait for."""
    with start_server(variant, "--send-timeout", str(SEND_S)) as running:
        yield running


def test_a_client_that_stops_reading_is_closed_after_the_send_timeout(stalling_server):
    """SPEC §4: 64 KiB of pipelined GET /test.jpg, never read: the server stops answering and closes once its
    send has stood still for --send-timeout. Read only afterwards, the connection is over long before the
    answers are: a server that kept it open would send them all now that they are read."""
    one = b"GET /test.jpg HTTP/1.1\r\nHost: a\r\n\r\n"
    requests = 65536 // len(one)
    answer_size = len(stalling_server.exchange(one)[0].body)
    with socket.socket(socket.AF_INET6 if ":" in stalling_server.host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect((stalling_server.host, stalling_server.port))
        sock.sendall(one * requests)
        time.sleep(SEND_S + 3)  # the send stalls at once; the sweeps notice within a quarter second
        received, ended = 0, False
        try:
            while data := sock.recv(65536):
                received += len(data)
            ended = True
        except ConnectionResetError:
            ended = True
        except TimeoutError:
            pass
    assert ended and received < requests * answer_size // 2, (ended, received, requests * answer_size)


def test_unused_bodies_are_read_not_parsed_as_requests(server):
    smuggled = b"GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"
    batch = (
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled
        + b"POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled
        + b"POST /plaintext HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(smuggled)
        + smuggled + b"\r\n0\r\n\r\n"
        + b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    answers = server.exchange(batch, count=4)
    assert [a.status for a in answers] == [200, 404, 405, 200]
    assert json.loads(answers[3].body)["body_base64"] == ""  # no length, no body (RFC 9112 §6.3)


def test_idle_connection_is_closed_after_keepalive_timeout(quick_server):
    with quick_server.connect() as sock:
        sock.sendall(request())
        assert ResponseReader(sock.recv).read_response().status == 200
        assert closed_by_peer(sock)  # quietly: no 408 on an idle connection
    with quick_server.connect() as sock:  # a fresh connection that never speaks is idle too
        assert closed_by_peer(sock)


@pytest.mark.parametrize("partial", [b"GET /pla", b"GET /plaintext HTTP/1.1\r\nHo"], ids=["request-line", "fields"])
def test_slow_head_gets_408(quick_server, partial):
    with quick_server.connect() as sock:
        sock.sendall(partial)
        answer = ResponseReader(sock.recv).read_response()
        assert answer.status == 408 and header(answer, "connection") == "close"
        assert answers_no_more(sock)


def test_expect_100_continue_comes_before_the_body_is_sent(server):
    with server.connect() as sock:
        reader = ResponseReader(sock.recv)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert reader.read_response().status == 100
        sock.sendall(b"hello")
        answer = reader.read_response()
        assert answer.status == 200 and json.loads(answer.body)["body_base64"] == "aGVsbG8="


def test_expect_100_continue_with_a_body_over_the_limit_is_413_at_once(server):
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1048577\r\n\r\n")
        answer = ResponseReader(sock.recv).read_response()
        assert answer.status == 413 and answers_no_more(sock)


@pytest.mark.parametrize(
    "partial,status",
    [
        (b"GET /" + b"a" * (MAX_REQUEST_LINE + 10), 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 9000, 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: a\r\n" * 101, 431),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413),
    ],
    ids=["request-line", "field-line", "field-count", "chunked-body"],
)
def test_limits_are_enforced_before_the_request_ends(server, partial, status):
    with server.connect() as sock:
        sock.sendall(partial)  # and nothing more: the answer may not wait for the rest
        answer = ResponseReader(sock.recv).read_response()
        assert answer.status == status and answers_no_more(sock)


def count_messages(server) -> int:
    return len(json.loads(server.get("/messages?limit=500").body)["messages"])


@pytest.mark.parametrize(
    "partial",
    [
        b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"
        b"{\"text\": \"cut",
        b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10\r\n{\"text\": \"cut\"}",
        b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Ty",
    ],
    ids=["length-body", "chunked-body", "head"],
)
def test_client_closing_mid_request_stores_nothing(server, partial):
    before = count_messages(server)
    for how in (socket.SHUT_WR, None):
        with server.connect() as sock:
            sock.sendall(partial)
            if how is None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            else:
                sock.shutdown(how)
                assert closed_by_peer(sock)  # nothing sent back
    assert count_messages(server) == before
    assert "Traceback" not in server.stderr()


def open_files(server) -> int:
    return len(list(Path(f"/proc/{server.process.pid}/fd").iterdir()))


def test_clients_that_come_and_go_leave_no_open_files_behind(server):
    """Each client on a connection of its own, writing and reading the guestbook: what the server keeps open
    (sockets, the SQLite database) does not grow with the number of clients it has served."""
    def clients(count: int) -> None:
        for n in range(count):
            body = json.dumps({"text": f"client {n}"}).encode()
            assert server.get("/messages", "Content-Type: application/json\r\n", "POST", body).status == 201
            assert server.get("/messages?limit=5").status == 200

    clients(5)
    before = open_files(server)
    clients(60)
    assert wait_for(lambda: open_files(server) <= before + 2), (before, open_files(server))


def test_sigterm_finishes_the_request_in_flight_then_exits_0(variant, start_server):
    with start_server(variant) as running:
        body = json.dumps({"text": "in flight at SIGTERM"}).encode()
        head = b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        with running.connect() as busy:
            reader = ResponseReader(busy.recv)
            busy.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
            assert reader.read_response().status == 100  # the server is now reading this body
            running.process.send_signal(signal.SIGTERM)
            busy.sendall(body)
            assert reader.read_response().status == 201
            assert closed_by_peer(busy)  # and then the server lets the connection go
        assert running.process.wait(10) == 0
        with pytest.raises(OSError):
            running.connect(timeout=2).close()
    with start_server(variant, data_dir=running.data_dir) as again:  # the same port is free at once too
        texts = [m["text"] for m in json.loads(again.get("/messages").body)["messages"]]
        assert "in flight at SIGTERM" in texts


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_lets_idle_keep_alive_connections_go_at_once(variant, start_server, signum):
    with start_server(variant) as running:
        with running.connect() as idle:
            idle.sendall(request())
            assert ResponseReader(idle.recv).read_response().status == 200
            running.process.send_signal(signum)
            assert closed_by_peer(idle, timeout=4.0)  # well before the 5 s keep-alive timeout
        assert running.process.wait(10) == 0


def test_no_keepalive_knob_closes_after_every_response(variant, start_server):
    with (
        start_server(variant, "--no-keepalive", "--no-nodelay") as running,  # both benchmark knobs
        running.connect() as sock,
    ):
        sock.sendall(request())
        answer = ResponseReader(sock.recv).read_response()
        assert (answer.status, header(answer, "connection")) == (200, "close")
        assert answers_no_more(sock)
