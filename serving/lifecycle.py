"""Graceful stop for one server process (SPEC §1): the stop flag, open connections, children.

SIGTERM/SIGINT set the flag, wake idle keep-alive connections and run the
layer's stop callbacks; the in-flight requests finish within the grace period.
"""

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

GRACE_S = 5.0


class Lifecycle:
    """Shared by the accept loop and the connections of one server process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.RLock()  # re-entrant: the signal handler may interrupt a holder
        self._connections: dict[socket.socket, Callable[[], bool]] = {}

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the server process (not a forked child) is asked to stop."""
        self._callbacks.append(callback)

    def stop(self) -> None:
        self.stopping.set()
        self.wake_idle()
        if os.getpid() == self.pid:
            for callback in self._callbacks:
                callback()

    @contextmanager
    def track(self, sock: socket.socket, is_idle: Callable[[], bool]) -> Iterator[None]:
        """Register an open connection while it is served; `is_idle` says it waits for a request."""
        with self._lock:
            self._connections[sock] = is_idle
        try:
            if self.stopping.is_set():
                self.wake_idle()
            yield
        finally:
            with self._lock:
                self._connections.pop(sock, None)

    def wake_idle(self) -> None:
        """Half-close idle connections so that their blocked recv returns b'' at once."""
        with self._lock:
            idle = [sock for sock, is_idle in self._connections.items() if is_idle()]
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def wait_drained(self, deadline: float) -> bool:
        """Wait until no connection is open or the deadline passes; True if drained."""
        while self.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.open_connections()


def stop_children(pids: set[int], deadline: float) -> None:
    """Ask forked children to finish (SIGTERM), reap them, SIGKILL those left at the deadline."""
    for pid in list(pids):
        signal_child(pid, signal.SIGTERM)
    while pids and time.monotonic() < deadline:
        reap(pids)
        time.sleep(0.02)
    for pid in list(pids):
        signal_child(pid, signal.SIGKILL)
        reap(pids, block=True)


def signal_child(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def reap(pids: set[int], block: bool = False) -> None:
    """Collect exited children of `pids` (all that have exited, or wait for each if `block`)."""
    for pid in list(pids):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            pids.discard(pid)
