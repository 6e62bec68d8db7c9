"""The blocking connection loop: recv, Session, send, until the Session closes.

Shared by every blocking model of raw_socket and socketserver_impl: neither
layer has an HTTP loop of its own, so neither writes this twice.
"""

import socket
import threading
import time
from collections.abc import Callable

from .session import Session, overloaded

REFUSE_DRAIN_S = 2.0


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
