"""The server on `http.server`: it gives the loop, the models, the request line and the dispatch to do_*.

BaseHTTPRequestHandler reads each request line and calls do_METHOD. Where it falls short of the
contract, the smallest hook is overridden below, with why; where stock's own way costs more than
the contract needs (the head parsed by the email package, the head written a line at a time), its
template method (parse_request, the send_* family) is overridden with a cheaper one. It must not
use http11's parser (parsing is this layer's job): it checks the lines its reader measured against
http11's grammar, and borrows its chunked decoder, which http.server lacks.
"""

import http.client
import http.server
import socketserver
import time
from collections.abc import Callable
from http import HTTPStatus
from io import BufferedIOBase
from pathlib import Path
from typing import cast

from http11 import Origin, ProtocolError, Request, Response, error_response, grammar, http_date
from http11.parser import ChunkedBody
from serving.access_log import log_request
from serving.contract import App, Lifecycle, ServerOptions
from serving.runner import run
from serving.sending import SendClock, Sender
from serving.session import answer_with_connection, file_pieces
from serving.stdlib_server import Forking, ManagedServer, Threading

from .reader import ConnectionClosed, HeadTimeout, RequestReader

SERVER = "server-layers (http_server_impl)"
STATUS_LINES = {status: f"HTTP/1.1 {status.value} {http.server.BaseHTTPRequestHandler.responses[status][0]}\r\n"
                for status in HTTPStatus}  # stock's send_response_only, once per status

# --- connection loop -----------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    """http.server's handler, with the gaps of the contract filled."""

    protocol_version = "HTTP/1.1"  # stock HTTP/1.0 closes after every response
    # gap: HTTP/1.0 by default, a connection per request [cases: none: the stock column sets HTTP/1.1 too]
    default_request_version = "HTTP/1.1"  # stock HTTP/0.9 sends errors without a status line
    # gap: errors without a status line (HTTP/0.9) [cases: request-line-*, version-*]
    disable_nagle_algorithm = True  # without TCP_NODELAY each keep-alive response stalls ~40 ms

    server: "Server"  # stock types it BaseServer; make_server hands every handler this module's Server
    reader: RequestReader  # self.rfile, as this layer uses it (stock only calls its readline and close)
    raw_requestline: bytes  # set by stock's handle_one_request, not in typeshed's stub
    _headers_buffer: list[bytes]  # stock's send_header collects the head here; likewise not in the stub

    def setup(self) -> None:
        # Per instance: stock reads it through self, though typeshed declares it a ClassVar.
        self.disable_nagle_algorithm = self.server.options.nodelay  # type: ignore[misc]  # --no-nodelay, a knob
        super().setup()
        # Stock sets these in parse_request only; a 408 before the first request line needs them
        # ("" for no command, as stock's own 414 sets it).
        self.request_version, self.command, self.requestline = self.default_request_version, "", ""
        self.rfile.close()
        self.reader = RequestReader(self.connection, self.server.options)  # limits and deadlines as bytes arrive
        self.rfile = cast(BufferedIOBase, self.reader)  # file-like enough for stock: readline, close
        # Stock writes with sendall, which waits forever on a client that stops reading.
        # gap: no send timeout [cases: none: the stress tier's hostile clients]
        self.wfile.close()
        self.wfile = cast(BufferedIOBase, Sender(self.connection, SendClock(self.server.options.send_timeout)))

    def handle(self) -> None:
        # Stock closes silently on a timeout mid-head and prints a traceback on a reset.
        # gap: no 408, silence on a stalled head [cases: none: the stress tier's slowloris test]
        with self.server.lifecycle.track(self.connection, self.reader.is_idle):
            try:
                super().handle()
            except HeadTimeout:
                self.quietly(self.send_error, HTTPStatus.REQUEST_TIMEOUT)
            except (ConnectionClosed, OSError):
                pass

    def parse_request(self) -> bool:
        # Stock splits on any white space and accepts `GET /` (HTTP/0.9): check the line first.
        # gap: a lenient request line [cases: request-line-*, method-*, target-*]
        # Stock then parses the head with the email package (http.client.parse_headers), about a
        # third of its time per request, and counts the empty line that ends a head as a field, so
        # 100 fields get 431; the reader has the lines already, measured and limited: they are checked
        # against the grammar (check_head) instead, and self.headers is not built.
        # gap: 100 fields refused with 431 [cases: header-count-100]
        self.request_version = self.default_request_version
        raw = self.raw_requestline
        try:
            self.command, self.target, self.request_version = grammar.check_request_line(
                raw[:-1] if raw.endswith(b"\n") else raw)
            while self.reader.readline() not in (b"\r\n", b"\n"):
                pass  # the reader keeps each field line in self.reader.lines and enforces the limits
        except ProtocolError as exc:
            return self.refuse(exc)
        except http.client.LineTooLong:  # the reader's HeadTooLarge
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            return False
        self.path = self.target
        if not self.check_head():
            return False
        if self.expect == "continue":
            # Stock sends 100 Continue before any check; a bad head (413, 400) must be refused instead.
            # gap: 100 Continue before the head is checked [cases: expect-*, fuzz-expect-*]
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()
        return True

    def check_head(self) -> bool:
        """Stock accepts lines without a colon, obs-fold, control characters, any Host, any framing."""
        # gap: lenient field lines, any Host [cases: header-*, host-*]
        try:
            # The checked lines, not stock's self.headers: stock keeps a value's trailing white space
            # (OWS is not part of a value, RFC 9112 §5); otherwise the names and values are the same.
            self.fields = [grammar.check_field_line(line[:-1]) for line in self.reader.lines]
            self.index = grammar.index(self.fields)
            grammar.check_host(self.request_version, self.index)
            self.length = grammar.body_length(self.request_version, self.index)
        except ProtocolError as exc:
            return self.refuse(exc)
        self.expect = grammar.expectation(self.request_version, self.index)
        return True

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Stock answers 501 to a method without do_* and leaves its body unread: the app decides.
        # gap: 501 and close for a method without do_* [cases: method-unknown, method-lowercase-get, method-32-chars]
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def serve(self) -> None:
        try:
            body = self.read_body()
        except ProtocolError as exc:
            self.refuse(exc)
            return
        self.reader.request_read()  # from here a stop may close the connection once this is answered
        # self.target, not self.path: stock rewrites a leading '//' and /echo reports the target as sent
        # gap: a leading '//' rewritten [cases: target-double-slash]
        request = Request(self.command, self.target, self.request_version, self.fields, body, self.expect, self.index,
                          Origin(self.version_string(), self.client_address, self.connection.getsockname))
        server = self.server
        response, connection = answer_with_connection(server.app, server.options, server.lifecycle, request)
        self.write(response, connection, request.request_line)

    # the methods the app answers most, found without a failed lookup through __getattr__ (twice a request)
    do_GET = do_HEAD = do_POST = serve

    def read_body(self) -> bytes:
        # Stock has no body framing at all; chunked bodies are decoded by http11's decoder.
        # gap: no body framing [cases: chunked-*, te-*, cl-*, content-length-*, fuzz-chunk*]
        if self.length != grammar.CHUNKED:
            return self.reader.read(self.length)
        decoder, pending = ChunkedBody(), bytearray()
        while not decoder.feed(pending):
            pending += self.reader.read_some()
        self.reader.unread(pending)
        return bytes(decoder.body)

    def write(self, response: Response, connection: str | None, request_line: str) -> None:
        if self.server.options.access_log:  # before the answer leaves, as on the other layers
            log_request(self.client_address, request_line, response.status,
                        response.length if response.file else len(response.body))
        # Stock end_headers() sends the head and the body follows in a second send; one send per
        # response instead (two are what lets Nagle and delayed ACKs stall a keep-alive client).
        # gap: head and body in two sends, the Nagle stall [cases: none: a delay, measured with --no-nodelay]
        self._headers_buffer = [self.head(response, connection), response.body]
        self.flush_headers()
        self.close_connection = connection == "close"
        if response.file:  # a large file: a piece at a time, each sent before the next is read (SPEC §4)
            self.send_file(response.file, response.length)

    def head(self, response: Response, connection: str | None) -> bytes:
        """The status line, Server, Date and the response's fields, as stock's send_response and send_header
        write them; stock encodes and appends a line per call and checks each name for Connection, which
        costs more than the rest of the answer: here the head is one string, encoded once."""
        lines = [STATUS_LINES[response.status], f"Server: {SERVER}\r\nDate: {self.date_time_string()}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in response.headers]
        if response.has_length:
            lines.append(f"Content-Length: {response.length}\r\n")
        if connection:
            lines.append(f"Connection: {connection}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def send_file(self, path: Path, length: int) -> None:
        try:
            for piece in file_pieces(path, length):
                self.wfile.write(piece)
        except (OSError, EOFError):  # the file went or shrank after its head was sent: the answer is cut short
            self.close_connection = True

    def refuse(self, exc: ProtocolError) -> bool:
        self.send_error(exc.status)
        return False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Stock answers an HTML page; the contract: text/plain `CODE REASON\n`, then close.
        # gap: HTML error pages [cases: target-space, target-tab, header-count-101]
        self.write(error_response(HTTPStatus(code)), "close", "-")

    def quietly(self, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except OSError:
            pass

    def version_string(self) -> str:
        return SERVER

    def date_time_string(self, timestamp: float | None = None) -> str:
        # Stock formats the Date of every response anew; once per second is enough (as on the other layers).
        return http_date(time.time() if timestamp is None else timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # no per-request logging unless --access-log (see write)

    def log_message(self, format: str, *args: object) -> None:
        pass  # stock writes every error to stderr; the other layers do not


# --- server class ---------------------------------------------------------------


class Server(ManagedServer, http.server.HTTPServer):
    """http.server.HTTPServer with the contract's defaults (see serving.stdlib_server)."""

    def server_bind(self) -> None:
        # Stock calls socket.getfqdn() at bind, a DNS lookup the other layers do not make.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.socket.getsockname()[:2]


class ThreadingServer(Threading, Server):
    """The `threaded` model: a thread per connection (as CPython's socketserver.ThreadingTCPServer)."""


class ForkingServer(Forking, Server):
    """The `forking` model: a process per connection (as CPython's socketserver.ForkingTCPServer)."""


MODELS = {"iterative": Server, "threaded": ThreadingServer, "forking": ForkingServer}


# --- make_server and main --------------------------------------------------------


def make_server(app: App, options: ServerOptions, lifecycle: Lifecycle) -> Server:
    return MODELS[options.model](app, options, lifecycle, Handler)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    return run("http_server_impl", list(MODELS), make_server, argv, prog)
