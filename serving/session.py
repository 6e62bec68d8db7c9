"""One connection's HTTP/1.1 exchange, sans-IO: bytes received in, bytes to send out.

Used by the layers that have no HTTP of their own (raw_socket, socketserver_impl, asyncio_impl):
it drives http11's parser, the app, keep-alive, 100-continue, the timeouts and back-pressure
(SPEC §4: it answers no further request while an answer waits to be sent).
It never touches a socket: the layer does the recv and the send.
"""

import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import cast

from http11 import (
    CONTINUE,
    Address,
    Origin,
    ProtocolError,
    Request,
    RequestParser,
    Response,
    error_response,
    http_date,
    serialize,
)
from http11.limits import FILE_PIECE
from webapp.cgi import Deferred

from .access_log import log_request
from .contract import App, Lifecycle, ServerOptions
from .sending import SendClock

IDLE, HEAD, BODY = "idle", "head", "body"  # where a connection is between two requests, for its deadline


def deadline(phase: str, waiting_since: float, last_data: float, options: ServerOptions) -> float:
    """SPEC §4, the one rule for every layer: idle -> --keepalive-timeout after the last answer; a head ->
    --header-timeout from its first byte's wait (more bytes buy no time: slowloris); a body -> --header-timeout
    since the last byte arrived."""
    if phase == IDLE:
        return waiting_since + options.keepalive_timeout
    if phase == BODY:
        return last_data + options.header_timeout
    return waiting_since + options.header_timeout


def overloaded(layer: str) -> bytes:
    """The whole 503 for a connection past the cap, before any request is read."""
    response = error_response(HTTPStatus.SERVICE_UNAVAILABLE, [("Retry-After", "1")])
    return serialize(response, server=f"server-layers ({layer})", date=http_date(time.time()), connection="close")


def decide(app: App, request: Request) -> Response | Deferred:
    """The app's answer to a whole request; a Deferred (a CGI script) is still to be run."""
    if request.expect == "unmet":
        return error_response(HTTPStatus.EXPECTATION_FAILED)
    return app.handle(request)


def decide_now(app: App, request: Request) -> Response:
    """The app's answer, run here (blocking) if it deferred it: for a caller that can wait (a thread, a process)."""
    response = decide(app, request)
    return response.run() if isinstance(response, Deferred) else response


def answer_with_connection(app: App, options: ServerOptions, lifecycle: Lifecycle,
                           request: Request) -> tuple[Response, str | None]:
    """The response to a whole request (run here, blocking, if the app deferred it), and its Connection field."""
    return fit(options, lifecycle, request, decide_now(app, request))


def fit(options: ServerOptions, lifecycle: Lifecycle, request: Request,
        response: Response) -> tuple[Response, str | None]:
    """HEAD without a body, and the Connection field the response needs (None, keep-alive, close)."""
    if request.method == "HEAD":  # GET's status and fields, never a body (RFC 9110 §9.3.2), errors included
        response.body, response.file = b"", None
    keep = request.keep_alive and options.keepalive and not lifecycle.stopping.is_set()  # stopping: close after this
    return response, None if keep and request.version == "HTTP/1.1" else ("keep-alive" if keep else "close")


def file_pieces(path: Path, length: int) -> Iterator[bytes]:
    """A file answer's body, FILE_PIECE bytes at a time, read only as each is asked for; EOFError if the file
    shrank since its length was sent (the answer cannot be completed: the connection must close)."""
    with open(path, "rb") as file:
        while length > 0:
            piece = file.read(min(FILE_PIECE, length))
            if not piece:
                raise EOFError(f"{path} shrank while it was sent")
            length -= len(piece)
            yield piece


class Session:
    """Feed `receive` what arrives and send what it returns; then send what `more` returns until it returns b''.
    Read again only then; once `closing` is set and `more` returns b'', close.

    Each call gives one answer, or one piece of a large file's: a layer that sends it before asking for the next
    holds no answer beyond the one being sent (SPEC §4 allows 64 KiB), reads nothing while it waits, and on an
    event loop serves its connections one answer each in turn, so a client that pipelines thousands of requests
    delays the others by no more than one answer per turn.

    With `defer` (a layer with an event loop), a request whose answer takes time (a CGI script) is not run here:
    `pending` holds it, the Session reads no further, and the layer runs `pending.run()` off its loop, then sends
    what `resume(response)` returns. Without `defer`, it runs in place (the layer's thread or process waits)."""

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle, client: Address,
                 local: Callable[[], Address] | None = None, defer: bool = False) -> None:
        self.app = app
        self.server_header = f"server-layers ({options.layer})"  # the Server field of every response
        self.options = options
        self.access_log = options.access_log
        self.lifecycle = lifecycle
        self.client = client
        self.origin = Origin(self.server_header, client, local or (lambda: (options.host, options.port)))
        self.defer = defer
        self.pending: Deferred | None = None
        self.deferred_request: Request | None = None
        self.parser = RequestParser()
        self.starved = True  # the parser holds no whole request: nothing is due until more bytes arrive
        self.streaming: Iterator[bytes] | None = None  # the rest of a file answer's body
        self.close_after = False  # close once the streamed body is sent
        self.closing = False
        self.continued: Request | None = None
        self.waiting_since = self.last_data = time.monotonic()
        self.send_clock = SendClock(options.send_timeout)  # the layer's sends on this connection (SPEC §4)

    def receive(self, data: bytes) -> bytes:
        """Take received bytes (b'' = the peer closed); return the first answer now due (`more` gives the rest)."""
        if not data:
            self.closing = True
            return b""
        self.last_data = time.monotonic()
        self.parser.feed(data)
        self.starved = False
        return self.more()

    def resume(self, response: Response) -> bytes:
        """The pending request's answer (what follows it comes from `more`)."""
        # respond() set deferred_request with pending, and a layer resumes only a pending answer
        request, self.pending, self.deferred_request = cast(Request, self.deferred_request), None, None
        return self.framed_answer(request, response)

    def more(self) -> bytes:
        """The next bytes to send: the next piece of a file answer, else the answer to the next whole request the
        parser holds; b'' when nothing is due before more bytes arrive (or while a pending answer runs)."""
        while not self.closing:
            if self.streaming is not None:
                piece = self.next_piece(self.streaming)
            elif self.starved or self.pending is not None:
                break
            else:
                piece = self.next_answer()
            if piece:
                return piece
        return b""

    def next_answer(self) -> bytes:
        """The answer to the next whole request the parser holds (with its 100 Continue), else what is due before
        more bytes come (a 100 Continue for a head whose body is awaited)."""
        parser = self.parser
        try:
            request = parser.next_request()
        except ProtocolError as exc:
            return self.continue_for(parser.head) + self.error(exc.status)
        if request is None:
            self.starved = True
            return self.continue_for(parser.head)
        self.starved = not parser.buffer  # no byte of a next request held: the next call would find none either
        if request.expect is None:  # no 100 Continue can be due: the answer alone, not joined to b""
            return self.respond(request)
        return self.continue_for(request) + self.respond(request)

    def next_piece(self, streaming: Iterator[bytes]) -> bytes:
        """The next piece of the file being sent (`streaming`); at its end, the connection closes if the answer
        said so."""
        try:
            return next(streaming)
        except StopIteration:
            self.closing = self.close_after
        except (OSError, EOFError):  # the file went or shrank under us: the answer cannot be completed
            self.closing = True
        self.streaming, self.waiting_since = None, time.monotonic()
        return b""

    def continue_for(self, head: Request | None) -> bytes:
        """100 Continue, once, for a valid head that expects it, before its body is judged."""
        if head is None or head.expect != "continue" or head is self.continued:
            return b""
        self.continued = head
        return CONTINUE

    def respond(self, request: Request) -> bytes:
        request.origin = self.origin
        response = decide(self.app, request)
        if isinstance(response, Deferred):
            if self.defer:  # the layer runs it off its loop, then calls resume()
                self.pending, self.deferred_request = response, request
                return b""
            response = response.run()
        return self.framed_answer(request, response)

    def framed_answer(self, request: Request, response: Response) -> bytes:
        response, connection = fit(self.options, self.lifecycle, request, response)
        return self.frame(response, request.request_line, connection)

    def error(self, status: HTTPStatus) -> bytes:
        """The answer to a request that cannot be served: the error, then close."""
        return self.frame(error_response(status), "-", "close")

    def frame(self, response: Response, request_line: str, connection: str | None) -> bytes:
        """The response's head and body in memory (the layer sends them); a file body is streamed by `more`. Logs
        it, and notes whether the connection ends after it."""
        if response.file is None:
            self.closing = connection == "close"
        else:
            self.streaming, self.close_after = file_pieces(response.file, response.length), connection == "close"
        self.waiting_since = time.monotonic()
        if self.access_log:
            size = response.length if response.file else len(response.body)
            log_request(self.client, request_line, response.status, size)
        return serialize(response, server=self.server_header, date=http_date(time.time()), connection=connection)

    def is_idle(self) -> bool:
        """Waiting for the first byte of a next request (shutdown may close it)."""
        return self.pending is None and self.streaming is None and self.parser.idle

    def deadline(self) -> float:
        """When to give up waiting: idle keep-alive, an unfinished head, or a stalled body (never while a pending
        answer runs: the gateway has its own timeout)."""
        if self.pending is not None:
            return float("inf")
        phase = IDLE if self.parser.idle else HEAD if self.parser.head is None else BODY
        return deadline(phase, self.waiting_since, self.last_data, self.options)

    def timed_out(self) -> bytes:
        """The deadline passed: close; 408 unless the connection was merely idle."""
        if self.parser.idle:
            self.closing = True
            return b""
        return self.error(HTTPStatus.REQUEST_TIMEOUT)
