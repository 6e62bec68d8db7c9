"""The server on the `socket` module: the accept loop, the models and the recv loop by hand.

http11 parses, webapp answers; this module must not import another layer.
"""

import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from serving.blocking import admit, serve_connection
from serving.contract import Address, App, Lifecycle, ServerOptions
from serving.lifecycle import reap, stop_children
from serving.offload import in_thread
from serving.runner import family, run
from serving.sending import cap_send_buffer, kernel_unsent
from serving.session import Session

if TYPE_CHECKING:  # what a Session hands over, for the checker only: at run time this layer imports serving alone
    from http11 import Response
    from webapp.cgi import Deferred

ACCEPT_POLL_S = 0.5  # how soon the accept loop notices a stop (socketserver polls alike)
RECV_SIZE = 65536

# --- connection loop -----------------------------------------------------------


def handle(conn: socket.socket, client: Address, server: "Server") -> None:
    """One blocking connection: the shared recv/Session/send loop over the bare socket."""
    with conn:
        session = Session(server.app, server.options, server.lifecycle, client, conn.getsockname)
        serve_connection(conn, lambda: conn.recv(RECV_SIZE), session)


# --- server class ---------------------------------------------------------------


class Server:
    """bind, listen, accept; `process` serves each accepted socket in turn (the iterative model).

    Each other model is a small subclass below, as socketserver's own mixins are: it overrides `process`
    (threaded, forking) or the whole loop (selectors)."""

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle) -> None:
        self.app, self.options, self.lifecycle = app, options, lifecycle
        self.children: set[int] = set()
        self.listener = socket.socket(family(options.host), socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the port at once
        cap_send_buffer(self.listener)
        self.listener.bind((options.host, options.port))
        self.listener.listen(options.backlog)  # the same backlog on every layer
        self.address: Address = self.listener.getsockname()

    def serve(self) -> None:
        """Accept until a stop; then close the listener so new connections are refused."""
        self.listener.settimeout(ACCEPT_POLL_S)
        with self.listener:
            while not self.lifecycle.stopping.is_set():
                try:
                    conn, client = self.listener.accept()
                except (TimeoutError, InterruptedError):
                    reap(self.children)
                    continue
                if self.admit(conn):
                    self.process(conn, client)

    def admit(self, conn: socket.socket) -> bool:
        """TCP_NODELAY (unless --no-nodelay); past --max-connections a 503 instead of a connection."""
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, self.options.nodelay)  # no Nagle stall
        return admit(conn, self.open_connections(), self.options)

    def process(self, conn: socket.socket, client: Address) -> None:
        handle(conn, client, self)

    def open_connections(self) -> int:
        return self.lifecycle.open_connections()

    def drain(self, deadline: float) -> None:
        stop_children(self.children, deadline)
        self.lifecycle.wait_drained(deadline)


class ThreadingServer(Server):
    """The `threaded` model: a thread per connection."""

    def process(self, conn: socket.socket, client: Address) -> None:
        threading.Thread(target=handle, args=(conn, client, self), daemon=True).start()


class ForkingServer(Server):
    """The `forking` model: a process per connection."""

    def process(self, conn: socket.socket, client: Address) -> None:
        pid = os.fork()
        if pid == 0:  # the child serves this one connection, then exits
            self.listener.close()
            try:
                handle(conn, client, self)
                self.app.close()
            finally:
                os._exit(0)
        conn.close()
        self.children.add(pid)
        reap(self.children)

    def open_connections(self) -> int:
        reap(self.children)
        return len(self.children)


class Pending:
    """A selectors connection: its Session, the bytes not yet sent, and the events it is registered for."""

    __slots__ = ("events", "out", "running", "session", "sock")

    def __init__(self, sock: socket.socket, session: Session) -> None:
        self.sock, self.session, self.out, self.events = sock, session, bytearray(), 0
        self.running: Deferred | None = None  # the Session's pending answer once a thread runs it


WAKE = object()  # the selector key's data of the socket a finished CGI run writes to


class SelectorServer(Server):
    """The `selectors` model: one thread, non-blocking sockets, selectors.DefaultSelector."""

    SWEEP_S = 0.25  # how often deadlines are checked

    def serve(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.conns: dict[socket.socket, Pending] = {}
        self.off_loop_answers: deque[tuple[Pending, Response]] = deque()  # answers made off the loop, to send
        self.answered: list[Pending] = []  # the connections this turn's reads gave an answer to, to send at its end
        self.wake_in, self.wake_out = socket.socketpair()
        self.wake_in.setblocking(False)
        self.wake_out.setblocking(False)
        self.selector.register(self.wake_in, selectors.EVENT_READ, WAKE)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.loop(lambda: self.lifecycle.stopping.is_set())
        self.selector.unregister(self.listener)
        self.listener.close()  # new connections are refused from here on

    def drain(self, deadline: float) -> None:
        for conn in list(self.conns.values()):
            if conn.session.is_idle() and not conn.out:
                self.close(conn)
        self.loop(lambda: not self.conns or time.monotonic() > deadline)
        for conn in list(self.conns.values()):
            self.close(conn)

    def loop(self, done: Callable[[], bool]) -> None:
        next_sweep = time.monotonic()
        while not done():
            for key, events in self.selector.select(self.SWEEP_S):
                if key.data is None:  # the listener
                    self.accept_all()
                elif key.data is WAKE:
                    self.resume_off_loop()
                elif events & selectors.EVENT_WRITE:
                    self.flush(key.data)
                else:
                    self.read(key.data)
            self.send_answers()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.SWEEP_S
                self.sweep()

    def accept_all(self) -> None:
        while True:
            try:
                sock, client = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if not self.admit(sock):
                continue
            sock.setblocking(False)
            session = Session(self.app, self.options, self.lifecycle, client, sock.getsockname, defer=True)
            conn = self.conns[sock] = Pending(sock, session)
            self.watch(conn)

    def open_connections(self) -> int:
        return len(self.conns)

    def read(self, conn: Pending) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.out += conn.session.receive(data)
        self.answered.append(conn)

    def send_answers(self) -> None:
        """Send the answers to this turn's reads once all of them are read. A client on many connections (a proxy,
        a load generator) takes the batch in one wake-up, where a send after each read would wake it for each
        answer, and on one host each wake-up is a cross-CPU interrupt that the sender pays in system time."""
        answered, self.answered = self.answered, []
        for conn in answered:
            self.flush(conn)

    def offload(self, conn: Pending) -> None:
        """A CGI script runs in a thread: the loop reads no more from this connection until its answer is back."""
        pending = conn.session.pending
        if pending is not None and pending is not conn.running:
            conn.running = pending
            in_thread(pending.run, lambda response: self.made_off_loop(conn, response))

    def made_off_loop(self, conn: Pending, response: "Response") -> None:
        """From the thread: queue the answer and wake the loop."""
        self.off_loop_answers.append((conn, response))
        try:
            self.wake_out.send(b"\0")
        except OSError:  # the wake-up socket is full (the loop wakes anyway) or gone (stopped)
            pass

    def resume_off_loop(self) -> None:
        try:
            while self.wake_in.recv(4096):
                pass
        except BlockingIOError:
            pass
        while self.off_loop_answers:
            conn, response = self.off_loop_answers.popleft()
            if self.conns.get(conn.sock) is conn:  # not closed meanwhile
                conn.out += conn.session.resume(response)
                self.flush(conn)

    def flush(self, conn: Pending) -> None:
        """Send what is pending; once all is sent, take the Session's next answer, sent on the loop's next turn: one
        answer per connection per turn, so a client that pipelines thousands of requests cannot starve the others.
        Nothing beyond that answer waits here, and nothing is read while it does (SPEC §4)."""
        out = conn.out
        if out:
            try:
                sent = conn.sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return self.close(conn)
            del out[:sent]
        if not out:
            out += conn.session.more()
        if not out and conn.session.closing:
            return self.close(conn)
        self.watch(conn)
        if conn.session.pending is not None:  # a CGI script's answer is due: made off the loop
            self.offload(conn)

    def watch(self, conn: Pending) -> None:
        """Wait for what the connection needs next: to write what is left, else to read (not while a CGI runs)."""
        events = selectors.EVENT_WRITE if conn.out else 0 if conn.session.pending else selectors.EVENT_READ
        if events == conn.events:
            return
        if not conn.events:
            self.selector.register(conn.sock, events, conn)
        elif not events:
            self.selector.unregister(conn.sock)
        else:
            self.selector.modify(conn.sock, events, conn)
        conn.events = events

    def sweep(self) -> None:
        """Time out idle and slow clients, and close a send stalled past --send-timeout (SPEC §4)."""
        now = time.monotonic()
        for conn in list(self.conns.values()):
            waiting = len(conn.out) and len(conn.out) + kernel_unsent(conn.sock)
            if conn.session.send_clock.stalled(waiting, now):
                self.close(conn)
            elif not conn.out and now >= conn.session.deadline():
                conn.out += conn.session.timed_out()
                self.flush(conn)

    def close(self, conn: Pending) -> None:
        if conn.events:
            self.selector.unregister(conn.sock)
        del self.conns[conn.sock]
        conn.sock.close()


MODELS = {"iterative": Server, "threaded": ThreadingServer, "forking": ForkingServer, "selectors": SelectorServer}


# --- make_server and main --------------------------------------------------------


def make_server(app: App, options: ServerOptions, lifecycle: Lifecycle) -> Server:
    return MODELS[options.model](app, options, lifecycle)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    return run("raw_socket", list(MODELS), make_server, argv, prog)
