"""SPEC §2-3 over real sockets, on every layer x model and on the framework apps: routes and the shape of every
response. The access log (a layer's --access-log, SPEC §1) is tested on the layers only."""

import json
import re
import sqlite3
import threading
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import pytest
from helpers import header, header_names, wait_for

from conformance.corpus import ResponseReader

pytestmark = pytest.mark.usefixtures("framework_differences")  # a framework's listed SPEC lines: expected failures


@pytest.fixture(scope="module")
def server(app_server):
    """Every layer x model, and the framework apps (frameworks/; skipped without .venv-reference)."""
    return app_server


@pytest.fixture(scope="module")
def concurrent_server(concurrent_app_server):
    return concurrent_app_server


IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")


def check_common_headers(server, answer, app_decided: bool = False):
    """SPEC §3: Date, Server, Content-Length (except 1xx/204/304), error bodies (one more line saying what to
    change when the application decided the error)."""
    assert IMF_FIXDATE.fullmatch(header(answer, "date") or "")
    assert header(answer, "server") == f"server-layers ({server.layer})"
    if answer.status >= 200 and answer.status not in (204, 304):
        assert header_names(answer).count("content-length") == 1
    if answer.status >= 400:
        status = HTTPStatus(answer.status)
        assert header(answer, "content-type") == "text/plain; charset=utf-8"
        lines = answer.body.decode().split("\n")  # the status line, [one line saying what to change,] the end
        assert lines[0] == f"{answer.status} {status.phrase}" and lines[-1] == ""
        assert len(lines) == (3 if app_decided else 2) and all(lines[:-1])


def test_page(server):
    answer = server.get("/")
    check_common_headers(server, answer)
    page = answer.body.decode()
    assert answer.status == 200 and header(answer, "content-type") == "text/html; charset=utf-8"
    assert "<h1>Wow, Python Server</h1>" in page and '<img src="/test.jpg"' in page
    assert 'method="post" action="/messages"' in page and 'name="text"' in page


def test_image_and_static(server):
    image = server.get("/test.jpg")
    check_common_headers(server, image)
    assert image.status == 200 and header(image, "content-type") == "image/jpeg"
    assert image.body[:3] == b"\xff\xd8\xff" and int(header(image, "content-length")) == len(image.body)
    css = server.get("/static/style.css")
    assert css.status == 200 and header(css, "content-type") == "text/css; charset=utf-8"
    not_modified = server.get("/static/style.css", f"If-Modified-Since: {header(css, 'last-modified')}\r\n")
    check_common_headers(server, not_modified)
    assert (not_modified.status == 304 and not_modified.body == b""
            and "content-length" not in header_names(not_modified))
    for path in ("/static/", "/static/../webapp/app.py", "/static/%2e%2e/webapp/app.py", "/static/a%2fb",
                 "/static/nope.css"):
        missing = server.get(path)
        check_common_headers(server, missing)
        assert missing.status == 404, path


def test_plaintext_and_time(server):
    plain = server.get("/plaintext")
    check_common_headers(server, plain)
    assert (plain.status, plain.body) == (200, b"Hello, World!")
    assert header(plain, "content-type") == "text/plain; charset=utf-8"
    now = server.get("/time")
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now.body)
    served = parsedate_to_datetime(header(now, "date"))
    assert abs(served.timestamp() - parsedate_to_datetime(header(plain, "date")).timestamp()) < 120


def test_guestbook_json_and_form(server):
    created = server.get("/messages", "Content-Type: application/json\r\n", "POST",
                         json.dumps({"text": "hé <b>"}).encode())
    check_common_headers(server, created)
    message = json.loads(created.body)
    assert created.status == 201 and header(created, "location") == f"/messages/{message['id']}"
    assert header(created, "content-type") == "application/json" and message["text"] == "hé <b>"
    form = server.get("/messages", "Content-Type: application/x-www-form-urlencoded\r\n", "POST", b"text=from+a+form")
    check_common_headers(server, form)
    assert form.status == 303 and header(form, "location") == "/" and form.body == b""
    listed = json.loads(server.get("/messages?limit=500").body)["messages"]
    texts = [m["text"] for m in listed]
    assert texts.index("from a form") < texts.index("hé <b>")  # newest first
    assert json.loads(server.get(header(created, "location")).body) == message
    assert "hé &lt;b&gt;" in server.get("/").body.decode()


@pytest.mark.parametrize(
    "target,extra,method,body,status",
    [
        ("/messages", "Content-Type: application/json\r\n", "POST", b'{"text": ""}', 400),
        ("/messages", "Content-Type: application/json\r\n", "POST", b'{"text": "x', 400),
        ("/messages", "Content-Type: text/plain\r\n", "POST", b"text=hi", 415),
        ("/messages", "Content-Type: application/x-www-form-urlencoded\r\n", "POST", b"text=" + b"x" * 1001, 400),
        ("/messages?limit=0", "", "GET", b"", 400),
        ("/messages?limit=501", "", "GET", b"", 400),
        ("/messages/999999", "", "GET", b"", 404),
        ("/nowhere", "", "GET", b"", 404),
        ("/plaintext", "", "DELETE", b"", 405),
        ("/plaintext", "", "TRACE", b"", 405),
        ("/nowhere", "", "TRACE", b"", 405),
        ("/", "", "BREW", b"", 501),
    ],
)
def test_errors(server, target, extra, method, body, status):
    answer = server.get(target, extra, method, body)
    check_common_headers(server, answer, app_decided=target.startswith("/messages") and status in (400, 415))
    assert answer.status == status
    if status == 405:
        assert "GET" in header(answer, "allow")


def test_connect_is_not_a_proxy(server):
    (answer,) = server.exchange(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
    check_common_headers(server, answer)
    assert answer.status == 501


def test_options(server):
    options = server.get("/plaintext", method="OPTIONS")
    assert (options.status, options.body, header(options, "allow")) == (200, b"", "GET, HEAD, OPTIONS")
    (star,) = server.exchange(b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert star.status == 200 and header(star, "allow") == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


def test_head_answers_as_get_without_a_body(server):
    for path in ("/", "/test.jpg", "/plaintext", "/time", "/messages", "/messages/1", "/static/style.css", "/nowhere"):
        get = server.get(path)
        # HEAD then GET on one connection: a body after the HEAD response would garble the second answer
        with server.connect() as sock:
            sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            reader = ResponseReader(sock.recv)
            head, after = reader.read_response(head=True), reader.read_response()
        assert (after.status, after.body) == (200, b"Hello, World!")
        assert head.status == get.status, path
        assert header(head, "content-length") == header(get, "content-length") == str(len(get.body))
        assert header(head, "content-type") == header(get, "content-type")


def test_echo_reports_the_parsed_request(server):
    raw = (b"PUT /echo?x=%20 HTTP/1.1\r\nHost: a\r\nX-Case:  MiXed \r\nx-case: second\r\nContent-Length: 3\r\n"
           b"Connection: close\r\n\r\n\x00\x01\x02")
    (answer,) = server.exchange(raw)
    echoed = json.loads(answer.body)
    assert echoed == {
        "method": "PUT",
        "target": "/echo?x=%20",
        "version": "HTTP/1.1",
        "headers": [
            ["Host", "a"], ["X-Case", "MiXed"], ["x-case", "second"], ["Content-Length", "3"], ["Connection", "close"],
        ],
        "body_base64": "AAEC",
    }


def test_application_error_is_500_and_the_server_keeps_serving(server):
    """A real fault: another process holds the database's write lock past the busy timeout."""
    db = sqlite3.connect(server.data_dir / "messages.db", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        answer = server.get("/messages", "Content-Type: application/json\r\n", "POST", b'{"text": "blocked"}')
    finally:
        db.execute("ROLLBACK")
        db.close()
    check_common_headers(server, answer)
    assert answer.status == 500
    assert "Traceback (most recent call last)" in server.stderr() and "database is locked" in server.stderr()
    assert server.get("/plaintext").status == 200


def test_concurrent_clients_are_all_answered(concurrent_server):
    results = []

    def client():
        results.append(concurrent_server.get("/plaintext").body)

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"Hello, World!"] * 20


CLF = re.compile(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(.*)" (\d{3}) (\d+|-)')


def test_access_log_is_one_clf_line_per_request_and_off_by_default(variant, start_server):
    with start_server(variant, "--access-log") as logging:
        logging.get("/plaintext")
        logging.get("/nowhere", method="HEAD")
        logging.exchange(b"GET /\r\n\r\n")
        wait_for(lambda: len(logging.stderr().splitlines()) >= 3)  # a layer may log just after sending
        lines = [CLF.fullmatch(line) for line in logging.stderr().splitlines()]
    assert all(lines) and [(m[1], m[2], m[3]) for m in lines] == [
        ("GET /plaintext HTTP/1.1", "200", "13"),
        ("HEAD /nowhere HTTP/1.1", "404", "-"),
        ("-", "400", "16"),
    ]
    with start_server(variant) as quiet:
        quiet.get("/plaintext")
        quiet.get("/nowhere")
        assert quiet.stderr() == ""
