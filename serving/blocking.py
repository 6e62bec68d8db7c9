"""The blocking connection loop: recv, Session, send, until the Session closes.

Shared by every blocking model of raw_socket and socketserver_impl: neither
layer has an HTTP loop of its own, so neither writes this twice.
"""

import socket
import time
from collections.abc import Callable

from .session import Session


def serve_connection(sock: socket.socket, recv: Callable[[], bytes], send: Callable[[bytes], object], session: Session) -> None:
    """Serve one connection to its end; a vanished peer ends it quietly."""
    with session.lifecycle.track(sock, session.is_idle):
        try:
            while not session.closing:
                sock.settimeout(max(0.001, session.deadline() - time.monotonic()))
                try:
                    data = recv()
                except TimeoutError:
                    data = None
                out = session.timed_out() if data is None else session.receive(data)
                if out:
                    send(out)
        except OSError:  # reset by peer, broken pipe: nothing to answer
            pass
