"""The blocking connection loop: recv, Session, send, until the Session closes.

Shared by every blocking model of raw_socket and socketserver_impl: neither
layer has an HTTP loop of its own, so neither writes this twice.
"""

import socket
import struct
import threading
import time
from collections.abc import Callable

from .contract import ServerOptions
from .sending import Sender
from .session import Session, overloaded

REFUSE_DRAIN_S = 2.0
SLACK_S = 0.02  # the receive timeout is re-armed only when it is off by more than this


def timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))


class KernelTimeouts:
    """Receive deadlines kept by the kernel (SO_RCVTIMEO) on a blocking socket.

    A Python socket timeout polls before every recv and send, and each change of it
    is a system call of its own: three calls for one recv. The kernel's timeout
    costs nothing per call. A recv that times out raises BlockingIOError (or, through
    an unbuffered socket file, returns None). `arm` re-arms only when the timeout is
    off by over SLACK_S: a deadline may pass by that much before it is noticed, or a
    wait may end that much early, so callers check the clock and wait again.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        self.sock, self.armed = sock, -1.0

    def arm(self, deadline: float) -> None:
        """Let the next recv wait until about `deadline` (time.monotonic)."""
        seconds = max(0.001, deadline - time.monotonic())
        if abs(seconds - self.armed) > SLACK_S:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(seconds))
            self.armed = seconds

    def recv(self, recv: Callable[[], bytes | None], deadline: Callable[[], float]) -> bytes | None:
        """What `recv` returns (b'' once the peer closed), or None once `deadline()` has passed."""
        while True:
            self.arm(deadline())
            try:
                data = recv()
            except BlockingIOError:
                data = None
            if data is not None or time.monotonic() >= deadline():
                return data  # else: woke within the slack before the deadline, wait again


def refuse(sock: socket.socket, layer: str) -> None:
    """Past the connection cap: 503 and close, after reading what the client sent (no RST on its answer)."""
    try:
        sock.sendall(overloaded(layer))
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(REFUSE_DRAIN_S)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def refuse_in_background(sock: socket.socket, layer: str) -> None:
    threading.Thread(target=refuse, args=(sock, layer), daemon=True).start()


def admit(sock: socket.socket, open_now: int, options: ServerOptions) -> bool:
    """The connection cap, for every layer: past --max-connections the socket gets a 503 (from a thread of its
    own, so the accept loop goes on) and False; else True."""
    if open_now < options.max_connections:
        return True
    refuse_in_background(sock, options.layer)
    return False


def serve_connection(sock: socket.socket, recv: Callable[[], bytes | None], session: Session) -> None:
    """Serve one connection to its end; a vanished peer ends it quietly.

    `recv` returns bytes, b'' once the peer closed, or None (or raises BlockingIOError) when the wait timed out.
    Each answer is sent whole before the Session's next is asked for, so nothing beyond it waits
    here (SPEC §4); a send that makes no progress for --send-timeout ends the connection.
    """
    timeouts, send = KernelTimeouts(sock), Sender(sock, session.send_clock).write
    with session.lifecycle.track(sock, session.is_idle):
        try:
            out = b""
            while out or not session.closing:
                if out:
                    send(out)
                    out = session.more()
                    continue
                data = timeouts.recv(recv, session.deadline)
                out = session.timed_out() if data is None else session.receive(data)
        except OSError:  # reset by peer, broken pipe, a send stalled past its timeout: nothing to answer
            pass
