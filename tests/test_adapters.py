"""The thin adapters (adapters/): the one app behind stock http.server, ASGI (uvicorn) and WSGI (gunicorn).

Each reference server of bench.reference_servers is started for real and asked the same requests
over loopback: the same routes, the same answers the app gives on the project's layers. Stock
http.server runs everywhere; uvicorn and gunicorn only where .venv-reference holds them (`make
reference-env`; CI builds it; `make test` never needs it). The WSGI adapter also runs under the
standard library's own wsgiref server, so it is tested without the reference environment too.
Then the probe: reference columns are probed, shown as such, and never counted.
"""

import json
import socket
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from helpers import LAYERS

from adapters import make_app, wsgi
from bench.process import layer_command
from bench.reference_servers import production, start, stock, versions
from conformance.corpus import load_cases
from conformance.matrix import ReferenceCounts
from conformance.probe import run

REFERENCE = [stock(), *production()]
READY = versions() is not None


class Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        """wsgiref logs every request to stderr; the test has no use for it."""


HOSTS = [*REFERENCE, "wsgiref"]


@pytest.fixture(scope="module", params=HOSTS, ids=[getattr(t, "name", t).replace(" ", "-") for t in HOSTS])
def url(request, tmp_path_factory):
    """A reference server started as bench.reference_servers starts it, or the WSGI adapter under wsgiref."""
    if request.param == "wsgiref":
        yield from wsgiref_url(tmp_path_factory.mktemp("wsgiref"))
        return
    if request.param.production and not READY:
        pytest.skip(".venv-reference is not installed (make reference-env)")
    server = start(request.param, tmp_path_factory.mktemp("reference"))
    yield server.url
    assert server.stop() is not None


def wsgiref_url(folder):
    application = wsgi.Application()
    application.app = make_app(folder)
    server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    application.app.close()


def fetch(url: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def test_plaintext_and_the_page(url):
    assert fetch(url, "/plaintext")[::2] == (200, b"Hello, World!")
    status, headers, body = fetch(url, "/")
    assert status == 200 and b"<h1>Wow, Python Server</h1>" in body
    assert {k.lower(): v for k, v in headers.items()}["content-type"] == "text/html; charset=utf-8"


def test_head_has_gets_length_and_no_body(url):
    status, headers, body = fetch(url, "/plaintext", "HEAD")
    assert status == 200 and body == b"" and {k.lower(): v for k, v in headers.items()}["content-length"] == "13"


def test_a_post_is_stored_and_listed(url):
    status, _, _ = fetch(url, "/messages", "POST", b"text=adapted",
                               {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    listed = json.loads(fetch(url, "/messages?limit=5")[2])
    assert [m["text"] for m in listed["messages"]][:1] == ["adapted"]


def test_echo_sees_the_target_as_sent_and_the_body(url):
    status, _, body = fetch(url, "/echo?a=b%20c", "POST", b"payload", {"Content-Type": "text/plain"})
    echo = json.loads(body)
    assert status == 200 and echo["target"] == "/echo?a=b%20c" and echo["method"] == "POST"
    assert echo["body_base64"] == "cGF5bG9hZA=="


def test_errors_are_the_apps(url):
    assert fetch(url, "/nope")[::2] == (404, b"404 Not Found\n")
    status, headers, _ = fetch(url, "/plaintext", "DELETE")
    assert status == 405 and {k.lower(): v for k, v in headers.items()}["allow"]


def test_a_cgi_script_runs(url):
    assert fetch(url, "/cgi-bin/hello.sh")[::2] == (200, b"Hello, World!")


def test_reference_columns_are_probed_but_never_counted(tmp_path):
    """The stock column (it needs no reference environment) beside one of our servers."""
    layer, model = next((layer, models[0]) for layer, models in LAYERS.items())
    chosen = [case for case in load_cases() if case.id in {"plaintext", "chunked-basic", "request-line-http09"}]
    matrix = run({f"{layer}/{model}": layer_command(layer, model, tmp_path / "data")}, {}, chosen,
                 show_progress=False, references=[stock()])
    name = stock().name
    assert matrix.servers[name].reference is True
    assert matrix.totals.servers == 1 and matrix.totals.contract == 0
    cells = {row.id: row.cells[name] for row in matrix.rows}
    assert not cells["plaintext"].problems
    assert cells["chunked-basic"].substance  # stock has no chunked framing: the body is never read
    assert not any(cell.diverges for cell in cells.values())  # judged by the contract only
    assert matrix.totals.references is not None
    counted = matrix.totals.references[name]
    assert counted == ReferenceCounts(contract=sum(bool(c.problems) for c in cells.values()),
                                      substance=sum(bool(c.substance) for c in cells.values()))
    assert counted.substance >= 1


def raw_exchange(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection, then read until the server closes or goes quiet."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory):
    server = start(stock(), tmp_path_factory.mktemp("stock"))
    yield server
    server.stop()


@pytest.mark.parametrize("length", ["1" * 5000, str(2**63 - 1), str(2**63), "\xb2", "-1", "1e3"])
def test_the_stock_handler_never_crashes_on_a_content_length(stock_server, length):
    """Stock reads Content-Length bytes or none: an odd value is no body, a huge one 413, never a traceback."""
    head = f"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n".encode("latin-1")
    answer = raw_exchange(stock_server.url, head, timeout=3)
    assert answer.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 413 ")), answer[:80]
    assert "Traceback" not in stock_server.stderr()


def test_a_body_cut_short_reaches_no_app(stock_server):
    """The client goes away mid-body: nothing is stored, nothing answered, the server still serves."""
    before = json.loads(fetch(stock_server.url, "/messages?limit=500")[2])["messages"]
    host, port = stock_server.host, stock_server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 40\r\n\r\ntext=cut")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""
    assert json.loads(fetch(stock_server.url, "/messages?limit=500")[2])["messages"] == before
    assert "Traceback" not in stock_server.stderr()


def test_wsgi_without_a_terminated_input_never_waits_for_a_chunked_body(tmp_path):
    """wsgiref gives no wsgi.input_terminated: a chunked body is not read to an end that never comes."""
    server = wsgiref_url(tmp_path)
    url = next(server)
    try:
        answer = raw_exchange(url, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"5\r\nhello\r\n", timeout=5)
        assert answer.startswith(b"HTTP/1.0 200 ") or answer.startswith(b"HTTP/1.1 200 ")
    finally:
        next(server, None)
