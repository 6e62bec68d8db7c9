"""Socket-free tests of the application: Request in, Response out, a real SQLite file."""

import json
import os
import sqlite3
import threading
from http import HTTPStatus

import pytest

from http11 import Request
from webapp import App
from webapp.static import STATIC_DIR


@pytest.fixture
def app(tmp_path):
    application = App(tmp_path)
    yield application
    application.close()


def call(app, method, target, body=b"", headers=()):
    request = Request(method, target, "HTTP/1.1", [("Host", "a"), *headers], body)
    return app.handle(request)


def header(response, name):
    return {k.lower(): v for k, v in response.headers}.get(name)


def post_json(app, value):
    body = json.dumps(value).encode()
    return call(app, "POST", "/messages", body, [("Content-Type", "application/json")])


def test_page_has_heading_image_form_and_escaped_messages(app):
    post_json(app, {"text": "<script>alert(1)</script>"})
    post_json(app, {"text": "second"})
    response = call(app, "GET", "/")
    page = response.body.decode()
    assert response.status == HTTPStatus.OK and header(response, "content-type") == "text/html; charset=utf-8"
    assert "<h1>Wow, Python Server</h1>" in page and '<img src="/test.jpg"' in page
    assert 'method="post" action="/messages"' in page and 'name="text"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert page.index("second") < page.index("&lt;script&gt;")  # newest first


def test_json_and_form_posts_are_stored_and_listed(app):
    created = post_json(app, {"text": "  hello  "})
    message = json.loads(created.body)
    assert created.status == HTTPStatus.CREATED and header(created, "location") == f"/messages/{message['id']}"
    assert message["text"] == "hello" and message["created"].endswith("Z")
    form = call(app, "POST", "/messages", b"text=caf%C3%A9+au+lait",
                [("Content-Type", "application/x-www-form-urlencoded")])
    assert form.status == HTTPStatus.SEE_OTHER and header(form, "location") == "/" and form.body == b""
    listing = json.loads(call(app, "GET", "/messages?limit=1").body)["messages"]
    assert [m["text"] for m in listing] == ["café au lait"]
    assert json.loads(call(app, "GET", f"/messages/{message['id']}").body) == message


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b'{"text": ""}', "application/json", HTTPStatus.BAD_REQUEST),
        (b'{"text": "   "}', "application/json", HTTPStatus.BAD_REQUEST),
        (json.dumps({"text": "x" * 1001}).encode(), "application/json", HTTPStatus.BAD_REQUEST),
        (b'{"text": 5}', "application/json", HTTPStatus.BAD_REQUEST),
        (b'{"text": "\\ud800"}', "application/json", HTTPStatus.BAD_REQUEST),
        (b'{"text": ', "application/json", HTTPStatus.BAD_REQUEST),
        (b"[1]", "application/json", HTTPStatus.BAD_REQUEST),
        (b"\xff", "application/json", HTTPStatus.BAD_REQUEST),
        (b"other=1", "application/x-www-form-urlencoded", HTTPStatus.BAD_REQUEST),
        (b"text", "application/x-www-form-urlencoded", HTTPStatus.BAD_REQUEST),
        (b"text=%ff", "application/x-www-form-urlencoded", HTTPStatus.BAD_REQUEST),
        (b"text=hi", "text/plain", HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        (b"text=hi", None, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    ],
)
def test_bad_messages_are_refused_and_not_stored(app, body, content_type, status):
    headers = [("Content-Type", content_type)] if content_type else []
    response = call(app, "POST", "/messages", body, headers)
    assert response.status == status
    first, what_to_change, end = response.body.decode().split("\n")  # SPEC §3: the status, then one line
    assert first == f"{int(status)} {status.phrase}" and what_to_change and end == ""
    assert json.loads(call(app, "GET", "/messages").body) == {"messages": []}


def test_app_errors_say_what_to_change(app):
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    assert call(app, "POST", "/messages", b"text=", form).body == (
        b"400 Bad Request\ntext must be 1 to 1000 characters\n")
    assert call(app, "GET", "/messages?limit=0").body.endswith(b"\nlimit must be one whole number from 1 to 500\n")
    wrong_type = call(app, "POST", "/messages", b"text=hi", [("Content-Type", "text/plain")]).body.decode()
    assert "application/x-www-form-urlencoded (a field named text)" in wrong_type and "application/json" in wrong_type
    assert call(app, "GET", "/nowhere").body == b"404 Not Found\n"  # not the app's judgement of the content: one line


def test_text_limits_are_characters_not_bytes(app):
    assert post_json(app, {"text": "é" * 1000}).status == HTTPStatus.CREATED


@pytest.mark.parametrize("limit", ["0", "501", "abc", "", "-1", "1.5"])
def test_bad_limit_is_400(app, limit):
    assert call(app, "GET", f"/messages?limit={limit}").status == HTTPStatus.BAD_REQUEST


def test_message_ids(app):
    assert call(app, "GET", "/messages/999").status == HTTPStatus.NOT_FOUND
    assert call(app, "GET", "/messages/abc").status == HTTPStatus.NOT_FOUND
    assert call(app, "GET", "/messages/" + "9" * 40).status == HTTPStatus.NOT_FOUND


def test_methods_options_head(app):
    assert call(app, "FOO", "/").status == HTTPStatus.NOT_IMPLEMENTED
    assert call(app, "CONNECT", "a:443").status == HTTPStatus.NOT_IMPLEMENTED
    trace = call(app, "TRACE", "/plaintext")
    assert trace.status == HTTPStatus.METHOD_NOT_ALLOWED and header(trace, "allow") == "GET, HEAD, OPTIONS"
    put = call(app, "PUT", "/plaintext")
    assert put.status == HTTPStatus.METHOD_NOT_ALLOWED and header(put, "allow") == "GET, HEAD, OPTIONS"
    options = call(app, "OPTIONS", "/messages")
    assert (options.status == HTTPStatus.OK and options.body == b""
            and header(options, "allow") == "GET, HEAD, OPTIONS, POST")
    star = call(app, "OPTIONS", "*")
    assert header(star, "allow") == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    head, get = call(app, "HEAD", "/plaintext"), call(app, "GET", "/plaintext")
    assert (head.status, head.headers, head.length) == (get.status, get.headers, len(b"Hello, World!"))
    assert call(app, "GET", "/nowhere").status == HTTPStatus.NOT_FOUND


def test_echo_reports_what_was_parsed(app):
    response = call(app, "PATCH", "/echo?a=b", b"\x00\xff", [("X-Y", "z")])
    assert json.loads(response.body) == {
        "method": "PATCH",
        "target": "/echo?a=b",
        "version": "HTTP/1.1",
        "headers": [["Host", "a"], ["X-Y", "z"]],
        "body_base64": "AP8=",
    }


@pytest.mark.parametrize(
    "path",
    ["../webapp/app.py", "%2e%2e/webapp/app.py", "a%2fb", "/etc/passwd", "", "./style.css", "%5cetc", "nope.css"],
)
def test_static_refuses_anything_outside_or_missing(app, path):
    assert call(app, "GET", "/static/" + path).status == HTTPStatus.NOT_FOUND


def test_static_refuses_symlinks_out(app, tmp_path):
    link = STATIC_DIR / "link-out-for-test"
    target = tmp_path / "secret.txt"
    target.write_text("secret")
    os.symlink(target, link)
    try:
        assert call(app, "GET", "/static/link-out-for-test").status == HTTPStatus.NOT_FOUND
    finally:
        link.unlink()


def test_static_conditional_get(app):
    first = call(app, "GET", "/static/style.css")
    assert first.status == HTTPStatus.OK and header(first, "content-type") == "text/css; charset=utf-8"
    stamp = header(first, "last-modified")
    again = call(app, "GET", "/static/style.css", headers=[("If-Modified-Since", stamp)])
    assert again.status == HTTPStatus.NOT_MODIFIED and again.body == b"" and not again.has_length
    old = call(app, "GET", "/static/style.css", headers=[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
    assert old.status == HTTPStatus.OK
    assert call(app, "GET", "/static/style.css", headers=[("If-Modified-Since", "garbage")]).status == HTTPStatus.OK


def test_test_jpg_is_a_real_jpeg(app):
    response = call(app, "GET", "/test.jpg")
    assert header(response, "content-type") == "image/jpeg"
    assert response.body[:3] == b"\xff\xd8\xff" and response.body[-2:] == b"\xff\xd9"
    assert response.body == (STATIC_DIR / "test.jpg").read_bytes()


def test_store_is_wal_and_survives_reopen(tmp_path):
    first = App(tmp_path)
    created = json.loads(post_json(first, {"text": "kept"}).body)
    first.close()
    with sqlite3.connect(tmp_path / "messages.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second = App(tmp_path)
    assert json.loads(call(second, "GET", f"/messages/{created['id']}").body)["text"] == "kept"
    second.close()


def test_store_does_not_keep_a_connection_per_thread(tmp_path):
    """A thread per client (the threaded servers): every message is stored once, and after two crowds of threads
    the database is open no more often than one crowd has threads (a connection kept per thread: twice that)."""
    app, crowd_size = App(tmp_path), 40
    database = str(tmp_path / "messages.db")

    def crowd(name: str) -> int:
        threads = [threading.Thread(target=lambda n=n: [post_json(app, {"text": f"{name}{n}-{i}"}) for i in range(5)])
                   for n in range(crowd_size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(os.path.realpath(f"/proc/self/fd/{fd}") == database for fd in os.listdir("/proc/self/fd"))

    crowd("a")
    open_after_two = crowd("b")
    listed = json.loads(call(app, "GET", "/messages?limit=500").body)["messages"]
    assert sorted(m["text"] for m in listed) == sorted(
        f"{k}{n}-{i}" for k in "ab" for n in range(crowd_size) for i in range(5))
    assert len({m["id"] for m in listed}) == 2 * crowd_size * 5
    assert open_after_two <= crowd_size
    app.close()
