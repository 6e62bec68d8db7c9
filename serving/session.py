"""One connection's HTTP/1.1 exchange, sans-IO: bytes received in, bytes to send out.

Used by the layers that have no HTTP of their own (raw_socket, socketserver_impl):
it drives http11's parser, the app, keep-alive, 100-continue and the timeouts.
It never touches a socket: the layer does the recv and the send.
"""

import time
from http import HTTPStatus

from http11 import CONTINUE, Origin, ProtocolError, Request, RequestParser, Response, error_response, http_date, serialize
from webapp.cgi import Deferred

from .access_log import log_request


IDLE, HEAD, BODY = "idle", "head", "body"  # where a connection is between two requests, for its deadline


def deadline(phase: str, waiting_since: float, last_data: float, options) -> float:
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


def decide(app, request: Request) -> Response | Deferred:
    """The app's answer to a whole request; a Deferred (a CGI script) is still to be run."""
    if request.expect == "unmet":
        return error_response(HTTPStatus.EXPECTATION_FAILED)
    return app.handle(request)


def decide_now(app, request: Request) -> Response:
    """The app's answer, run here (blocking) if it deferred it: for a caller that can wait (a thread, a process)."""
    response = decide(app, request)
    return response.run() if isinstance(response, Deferred) else response


def answer(app, options, lifecycle, request: Request) -> tuple[Response, str | None]:
    """The response to a whole request (run here, blocking, if the app deferred it), and its Connection field."""
    return finish(options, lifecycle, request, decide_now(app, request))


def finish(options, lifecycle, request: Request, response: Response) -> tuple[Response, str | None]:
    """HEAD without a body, and the Connection field the response needs (None, keep-alive, close)."""
    if request.method == "HEAD":  # GET's status and fields, never a body (RFC 9110 §9.3.2), errors included
        response.body = b""
    keep = request.keep_alive and options.keepalive and not lifecycle.stopping.is_set()  # stopping: close after this
    return response, None if keep and request.version == "HTTP/1.1" else ("keep-alive" if keep else "close")


class Session:
    """Feed `receive` what arrives; send what it returns; stop once `closing` is set.

    With `defer` (a layer with an event loop), a request whose answer takes time (a CGI script) is not run here:
    `pending` holds it, the Session reads no further, and the layer runs `pending.run()` off its loop, then sends
    what `resume(response)` returns. Without `defer`, it runs in place (the layer's thread or process waits)."""

    def __init__(self, app, options, lifecycle, client: tuple, local=None, defer: bool = False) -> None:
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
        self.closing = False
        self.continued: Request | None = None
        self.waiting_since = self.last_data = time.monotonic()

    def receive(self, data: bytes) -> bytes:
        """Take received bytes (b'' = the peer closed); return every response now due, in order."""
        if not data:
            self.closing = True
            return b""
        self.last_data = time.monotonic()
        self.parser.feed(data)
        return self.answer_buffered()

    def resume(self, response: Response) -> bytes:
        """The pending request's answer, and every answer now due after it."""
        request, self.pending, self.deferred_request = self.deferred_request, None, None
        return self.finished(request, response) + self.answer_buffered()

    def answer_buffered(self) -> bytes:
        """Every response due from what the parser holds, in order; stops at a pending one."""
        parser = self.parser
        out = []
        while not self.closing and self.pending is None:
            try:
                request = parser.next_request()
            except ProtocolError as exc:
                out += [*self.continue_for(parser.head), self.error(exc.status)]
                break
            if request is None:
                out += self.continue_for(parser.head)
                break
            out += self.continue_for(request)
            out.append(self.respond(request))
        return out[0] if len(out) == 1 else b"".join(out)

    def continue_for(self, head: Request | None) -> list[bytes]:
        """100 Continue, once, for a valid head that expects it, before its body is judged."""
        if head is None or head.expect != "continue" or head is self.continued:
            return []
        self.continued = head
        return [CONTINUE]

    def respond(self, request: Request) -> bytes:
        request.origin = self.origin
        response = decide(self.app, request)
        if isinstance(response, Deferred):
            if self.defer:  # the layer runs it off its loop, then calls resume()
                self.pending, self.deferred_request = response, request
                return b""
            response = response.run()
        return self.finished(request, response)

    def finished(self, request: Request, response: Response) -> bytes:
        response, connection = finish(self.options, self.lifecycle, request, response)
        return self.frame(response, request.request_line, connection)

    def error(self, status: HTTPStatus) -> bytes:
        """The answer to a request that cannot be served: the error, then close."""
        return self.frame(error_response(status), "-", "close")

    def frame(self, response: Response, request_line: str, connection: str | None) -> bytes:
        """The response's bytes (the layer sends them); logs it, and notes whether the connection ends."""
        self.closing = connection == "close"
        self.waiting_since = time.monotonic()
        if self.access_log:
            log_request(self.client, request_line, response.status, len(response.body))
        return serialize(response, server=self.server_header, date=http_date(time.time()), connection=connection)

    def is_idle(self) -> bool:
        """Waiting for the first byte of a next request (shutdown may close it)."""
        return self.pending is None and self.parser.idle

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
