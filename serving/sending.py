"""Sending under SPEC §4's send timeout: what the kernel still holds, the stall clock, a blocking sendall.

A send "makes progress" when the client takes bytes: what waits to be sent, in the layer's
buffer and the kernel's together, goes down. The kernel alone is no judge: it copies a few
bytes now and then into a buffer the client never drains, so its own send timeout
(SO_SNDTIMEO) restarts again and again for a client that reads nothing.
"""

import fcntl
import select
import socket
import struct
import termios
import time
from typing import Protocol

STALL_POLL_S = 0.25  # how often a blocked sender looks at the clock (the event loops sweep alike)
# The kernel's send buffer of each connection (it doubles the figure asked for). Left to autotuning, Linux
# grows it to about 3 MiB on loopback (its MSS is 64 KiB), and a client that never reads would hold that much
# kernel memory, and the server's time to fill it, for free. Accepted sockets inherit it from the listener.
SEND_BUFFER = 32 * 1024


def cap_send_buffer(listener: socket.socket) -> None:
    """Every connection `listener` accepts gets a SEND_BUFFER kernel send buffer."""
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


class HasFileno(Protocol):
    """A socket, or what stands for one (asyncio's TransportSocket)."""

    def fileno(self) -> int: ...


def kernel_unsent(sock: HasFileno) -> int:
    """Bytes the kernel holds for `sock` that the peer has not acknowledged (SIOCOUTQ)."""
    try:
        unsent: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        return unsent
    except OSError:
        return 0


class SendClock:
    """Sans-IO: fed the bytes waiting to be sent (0 when the layer has none), says when they stood still for
    `timeout` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout, self.waiting, self.since = timeout, 0, 0.0

    def stalled(self, waiting: int, now: float) -> bool:
        if waiting != self.waiting:
            self.waiting, self.since = waiting, now
            return False
        return waiting > 0 and now - self.since >= self.timeout


class Sender:
    """A blocking socket's sendall whose send gives up (TimeoutError) once `clock` says it made no progress;
    file-like enough (write, flush, close) to stand in for a handler's wfile."""

    closed = False

    def __init__(self, sock: socket.socket, clock: SendClock) -> None:
        self.sock, self.clock = sock, clock

    def write(self, data: bytes) -> int:
        try:
            sent = self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent < len(data):  # the kernel's buffer is full: wait for the client to take some
            self.wait_out(memoryview(data)[sent:])
        return len(data)

    def wait_out(self, rest: memoryview) -> None:
        poller = select.poll()
        poller.register(self.sock, select.POLLOUT)
        while rest:
            poller.poll(STALL_POLL_S * 1000)
            try:
                rest = rest[self.sock.send(rest, socket.MSG_DONTWAIT) :]
            except BlockingIOError:
                pass
            if self.clock.stalled(len(rest) and len(rest) + kernel_unsent(self.sock), time.monotonic()):
                raise TimeoutError(f"no progress in {self.clock.timeout:g} s of sending")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
