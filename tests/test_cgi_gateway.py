"""The CGI gateway without a server: which targets name a script, the meta-variables, reading a script's answer.

Socket-free (webapp.cgi on hand-made Requests); the live tests run real scripts on every layer.
"""

from http import HTTPStatus

import pytest

from http11 import Origin, Request
from webapp import cgi

ORIGIN = Origin("server-layers (test)", ("10.0.0.7", 4242), lambda: ("127.0.0.1", 8000))


def request(target: str, headers: list | None = None, method: str = "GET", body: bytes = b"") -> Request:
    made = Request(method, target, "HTTP/1.1", headers or [("Host", "example.test")], body)
    made.origin = ORIGIN
    return made


@pytest.mark.parametrize("target, parts", [
    ("/cgi-bin/env.py", ("env.py", "", "")),
    ("/cgi-bin/env.py/a/b%20c?x=1&y", ("env.py", "/a/b c", "x=1&y")),
    ("/cgi-bin/env.py?", ("env.py", "", "")),
    ("/cgi-bin/%65nv.py", ("env.py", "", "")),
    ("http://example.test/cgi-bin/env.py?q", ("env.py", "", "q")),
    ("/cgi-bin/../x", None), ("/cgi-bin/%2e%2e/x", None), ("/cgi-bin/a%2Fb", None), ("/cgi-bin/env.py/%2e%2e", None),
    ("/cgi-bin/env.py/a%00b", None), ("/cgi-bin/%ff", None), ("/static/x", None),
])
def test_which_targets_name_a_script(target, parts):
    assert cgi.target_parts(request(target)) == parts


@pytest.mark.parametrize("host, name", [("[::1]:8000", "::1"), ("[::1]", "::1"), ("example.test:80", "example.test"),
                                        ("example.test", "example.test"), ("", ""), (None, "")])
def test_server_name_is_the_host_fields_name(host, name):
    assert cgi.host_name(host) == name


def test_meta_variables_are_the_specs_list_and_nothing_else():
    made = request("/cgi-bin/env.py/x?q=1", [("Host", "example.test:81"), ("X-A", "1"), ("x-a", "2"),
                                              ("Proxy", "evil"), ("Authorization", "secret"), ("X_B", "alias"),
                                              ("Content-Type", "text/plain"), ("Content-Length", "3")],
                   "POST", b"abc")
    env = cgi.meta_variables(made, *cgi.target_parts(made))
    assert env == {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "server-layers (test)", "SERVER_NAME": "example.test",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/cgi-bin/env.py",
        "PATH_INFO": "/x", "QUERY_STRING": "q=1", "REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "4242",
        "PATH": "/usr/local/bin:/usr/bin:/bin", "CONTENT_LENGTH": "3", "CONTENT_TYPE": "text/plain",
        "HTTP_HOST": "example.test:81", "HTTP_X_A": "1, 2",
    }


@pytest.mark.parametrize("output, status, fields, body", [
    (b"Content-Type: text/plain\n\nhi", HTTPStatus.OK, [("Content-Type", "text/plain")], b"hi"),
    (b"Content-Type: text/plain\r\n\r\nhi\r\n\r\nmore", HTTPStatus.OK, [("Content-Type", "text/plain")],
     b"hi\r\n\r\nmore"),
    (b"Status: 404 Gone Fishing\nContent-Type: text/plain\n\nx", HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")],
     b"x"),
    (b"Location: /x\n\n", HTTPStatus.FOUND, [("Location", "/x")], b""),
    (b"Location: http://e.test/\nStatus: 301\n\n", HTTPStatus.MOVED_PERMANENTLY, [("Location", "http://e.test/")], b""),
    (b"Content-Type: a/b\nContent-Length: 99\nConnection: close\nTransfer-Encoding: chunked\nX-Y:  z \n\nb",
     HTTPStatus.OK, [("Content-Type", "a/b"), ("X-Y", "z")], b"b"),
    (b"Status: 204\nContent-Type: a/b\n\nignored", HTTPStatus.NO_CONTENT, [("Content-Type", "a/b")], b""),
])
def test_a_cgi_answer_is_read_and_framed_by_the_server(output, status, fields, body):
    response = cgi.parse_output(output)
    assert (response.status, response.headers, response.body) == (status, fields, body)


@pytest.mark.parametrize("output", [
    b"", b"Content-Type: text/plain", b"no colon here\n\nbody", b"X-Only: 1\n\nbody", b"Bad Name: x\n\n",
    b"Status: 99 x\nContent-Type: a/b\n\n", b"Status: 600\nContent-Type: a/b\n\n",
    b"Status: abc\nContent-Type: a/b\n\n",
    b"Status: 299\nContent-Type: a/b\n\n", b" Content-Type: a/b\n\n", b"Content-Type: a\rb\n\n",
])
def test_what_is_not_a_cgi_answer_is_502(output):
    assert cgi.parse_output(output).status == HTTPStatus.BAD_GATEWAY
