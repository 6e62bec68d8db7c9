"""The handler's rfile: http.server reads the head line by line through it.

Stock rfile is a plain buffered socket file. This one fills the gaps the
contract needs and http.server cannot see: limits enforced as bytes arrive,
idle and header deadlines, blank lines before a request skipped, a head cut
short refused. It does not parse: it only measures lines.
"""

import http.client
import socket
import time
from collections.abc import Callable

from http11 import grammar
from http11.limits import MAX_FIELD_LINE, MAX_FIELDS, MAX_HEADER_SECTION, MAX_REQUEST_LINE
from serving.blocking import KernelTimeouts
from serving.contract import ServerOptions
from serving.session import BODY, HEAD, IDLE, deadline

RECV_SIZE = 65536


class HeadTimeout(Exception):
    """A request head or body did not arrive in time: answer 408."""


class ConnectionClosed(Exception):
    """The peer closed mid-request: answer nothing."""


class HeadTooLarge(http.client.LineTooLong):
    """A head past a limit; http.server answers its LineTooLong with 431."""

    def __init__(self) -> None:
        super().__init__("header section")


class RequestReader:
    """Lines and bytes from `sock`, in phases: idle -> head -> body -> idle."""

    def __init__(self, sock: socket.socket, options: ServerOptions) -> None:
        self.sock, self.options = sock, options
        self.timeouts = KernelTimeouts(sock)  # stock polls before every recv
        self.buffer = bytearray()
        self.phase = IDLE
        self.lines: list[bytes] = []  # the raw field lines of the current head
        self.waiting_since = self.last_data = time.monotonic()

    def is_idle(self) -> bool:
        return self.phase == IDLE and not self.buffer.strip(b"\r\n")

    def request_read(self) -> None:
        """The whole request is in: what comes next belongs to the next request (idle until it starts)."""
        self.phase, self.waiting_since = IDLE, time.monotonic()

    def readline(self, size: int = -1) -> bytes:
        if self.phase == BODY:  # a request whose body was never read: it is over all the same
            self.request_read()
        if self.phase == IDLE:
            return self.request_line()
        return self.field_line()

    def request_line(self) -> bytes:
        # gap: blank lines before a request refused [cases: empty-line*]
        # A method past its limit is refused at its 33rd byte (SPEC §5): what came so far is the line,
        # which the handler's check of the request line refuses with 400.
        line = self.take_line(MAX_REQUEST_LINE + 2, grammar.method_too_long)
        while line in (b"\r\n", b"\n"):  # RFC 9112 §2.2: empty lines before a request are ignored
            line = self.take_line(MAX_REQUEST_LINE + 2, grammar.method_too_long)
        self.phase, self.lines = HEAD, []
        return line

    def field_line(self) -> bytes:
        # gap: limits only after a whole line [cases: *-no-end, *-too-long, header-section-too-large, cl-over-limit]
        budget = MAX_HEADER_SECTION - sum(map(len, self.lines))
        line = self.take_line(min(MAX_FIELD_LINE + 2, budget + 2))
        if line in (b"\r\n", b"\n"):
            self.phase = BODY
            return line
        self.lines.append(line)
        too_long = not line.endswith(b"\n") or len(line.rstrip(b"\n")) - line.endswith(b"\r\n") > MAX_FIELD_LINE
        if too_long or len(self.lines) > MAX_FIELDS or len(line) > budget:
            raise HeadTooLarge()
        return line

    def take_line(self, cap: int, cut_short: Callable[[bytearray], bool] = lambda buffer: False) -> bytes:
        """Up to and with the next LF; or `cap` bytes when no LF comes within them; or what came so far
        as soon as `cut_short(buffer)` says the line is wrong already."""
        while True:
            end = self.buffer.find(b"\n", 0, cap)
            if end < 0 and cut_short(self.buffer):
                end = len(self.buffer) - 1
            if end >= 0 or len(self.buffer) >= cap:
                size = end + 1 if end >= 0 else cap
                line = bytes(self.buffer[:size])
                del self.buffer[:size]
                return line
            if not self.fill() and self.phase == IDLE and not self.buffer:
                return b""  # closed between requests

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_some(self) -> bytes:
        if not self.buffer:
            self.fill()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def unread(self, data: bytes | bytearray) -> None:
        self.buffer[:0] = data

    def close(self) -> None:
        """The socket is the server's to close; only the buffer goes."""
        self.buffer.clear()

    def fill(self) -> bool:
        """Receive more before the deadline; False when the peer closed between requests."""
        data = self.timeouts.recv(lambda: self.sock.recv(RECV_SIZE), self.deadline)
        if data is None:
            if self.is_idle():
                raise TimeoutError("idle")  # http.server closes an idle connection quietly
            raise HeadTimeout()
        if not data:
            if self.phase == IDLE and not self.buffer.strip(b"\r\n"):
                self.buffer.clear()
                return False
            raise ConnectionClosed()  # gap: a head cut short is served [cases: client-closes-in-*]
        self.buffer += data
        self.last_data = time.monotonic()
        return True

    def deadline(self) -> float:
        phase = IDLE if self.is_idle() else BODY if self.phase == BODY else HEAD
        return deadline(phase, self.waiting_since, self.last_data, self.options)
