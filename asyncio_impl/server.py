"""The server on `asyncio`: the event loop and its transports give the accept loop and the models.

The shared Session parses (http11) and webapp answers, as on raw_socket's selectors model, which is
this same event loop written by hand. This module must not import another layer.
"""

import asyncio
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from serving.blocking import REFUSE_DRAIN_S
from serving.contract import App, Lifecycle, ServerOptions
from serving.offload import in_thread
from serving.runner import family, run
from serving.sending import cap_send_buffer, kernel_unsent
from serving.session import Session, overloaded

if TYPE_CHECKING:  # what a Session hands over, for the checker only: at run time this layer imports serving alone
    from http11 import Response
    from webapp.cgi import Deferred

Result = TypeVar("Result")

READ_SIZE = 65536
DEADLINE = "the read deadline passed"  # the message of the sweep's cancel of a streams read
Reading = dict[asyncio.WriteTransport, "asyncio.Task[None]"]  # the streams connections waiting in a read
SWEEP_S = 0.25  # how often deadlines are checked (raw_socket's selectors sweeps alike)
DRAIN_POLL_S = 0.02

# --- connection loop -----------------------------------------------------------


async def serve_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: "StreamsServer") -> None:
    """The `streams` model's connection: await bytes, feed the Session, write what it answers, one by one."""
    session = server.open(writer.transport)
    if session is None:
        return await refuse_stream(reader, writer, server.options.layer)
    task = cast(asyncio.Task[None], asyncio.current_task())
    try:
        out = b""
        while out or not session.closing:
            if out:
                writer.write(out)
                if writer.transport.get_write_buffer_size():  # wait until the kernel took it all (the sweep ends a
                    await writer.drain()  # send stalled past --send-timeout)
                out = session.more()
                if out:  # one answer per turn of the loop: a client that pipelines thousands cannot starve the others
                    await asyncio.sleep(0)
            elif session.pending:  # a CGI script: its answer is made off the loop
                out = session.resume(await server.off_loop(session.pending.run))
            else:
                out = await receive(reader, session, server.reading, writer.transport, task)
    except OSError:  # reset by peer, or a send stalled: nothing to answer
        writer.transport.abort()
    finally:
        writer.close()


async def receive(reader: asyncio.StreamReader, session: Session, reading: Reading,
                  transport: asyncio.WriteTransport, task: "asyncio.Task[None]") -> bytes:
    """What the Session answers to the next bytes, or to its deadline passing first: while the read waits, the
    connection is in `reading`, and the sweep cancels the read once the deadline has passed (DEADLINE), as
    asyncio.timeout would; a timer per read (a TimerHandle on the loop's heap, made and cancelled for every
    request) cost more than the rest of the loop's work for a request."""
    reading[transport] = task
    try:
        data = await reader.read(READ_SIZE)
    except asyncio.CancelledError as exc:
        if exc.args != (DEADLINE,):
            raise
        task.uncancel()
        return session.timed_out()
    finally:
        del reading[transport]
    return session.receive(data)


async def refuse_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, layer: str) -> None:
    """Past the connection cap: 503 and close, after reading what the client sent (no RST on its answer)."""
    writer.write(overloaded(layer))
    try:
        writer.write_eof()
        async with asyncio.timeout(REFUSE_DRAIN_S):
            while await reader.read(READ_SIZE):
                pass
    except (OSError, TimeoutError):
        pass
    writer.close()


class Connection(asyncio.Protocol):
    """The `protocol` model's connection: asyncio calls back with bytes, the Session answers, the transport sends."""

    def __init__(self, server: "ProtocolServer") -> None:
        self.server = server
        self.writing = True  # False while the transport holds bytes the kernel has not taken (pause_writing)
        self.running: Deferred | None = None  # the Session's pending answer once a thread runs it
        self.queued = False  # an answer waits for the turn's end (ProtocolServer.send_at_turn_end)
        self.held: list[bytes] = []  # what arrived while it waited (b'': the peer closed), fed once it is sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's: it reads and writes
        # None only past the cap; no callback of a refused connection reaches the methods that cast it to Session.
        self.session: Session | None = self.server.open(self.transport)
        if self.session is None:  # past the cap: 503, half-close, discard what comes until EOF or the drain time
            self.transport.write(overloaded(self.server.options.layer))
            self.transport.write_eof()
            self.server.loop.call_later(REFUSE_DRAIN_S, transport.close)

    def data_received(self, data: bytes) -> None:
        self.take(data)

    def eof_received(self) -> bool:
        self.take(b"")
        return self.session is not None  # send() closes once the answers are sent; a refused one closes now

    def take(self, data: bytes) -> None:
        """Feed what arrived (b'': the peer closed) to the Session; its answer is sent at the turn's end. A loop that
        reads a connection again in the same turn (uvloop reads a stream up to 32 times) finds that answer still
        waiting: what it read is held, reading pauses, and send() feeds it once the answer is sent (SPEC §4)."""
        if self.session is None:
            return
        if self.queued or self.held:
            self.held.append(data)
            self.transport.pause_reading()
            return
        out = self.session.receive(data)
        if out:
            self.queued = True
            self.server.send_at_turn_end(self, out)
        else:
            self.send(out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self.transport)

    def pause_writing(self) -> None:
        """The kernel did not take all we wrote: no more answers, and no reading, until it has (SPEC §4)."""
        self.writing = False

    def resume_writing(self) -> None:
        """The kernel took it all: the next answer on the loop's next turn. Not from here: asyncio calls this from
        inside its write callback, which would end the connection a second time if `send` closed it now."""
        self.writing = True
        if self.session is not None:
            self.server.loop.call_soon(self.send_next)

    def send_next(self) -> None:
        if not self.transport.is_closing():
            self.send(cast(Session, self.session).more())

    def send(self, out: bytes) -> None:
        """Write `out`; once the kernel took it, write the Session's next answer on the loop's next turn (one answer
        per connection per turn); when it has none, run a CGI script off the loop, read, or close, as it needs."""
        session, transport = self.session, self.transport
        if session is None or transport.is_closing():  # refused, or aborted (a stalled send) before this turn came
            return
        if out:
            transport.write(out)
            if not self.writing:  # resume_writing goes on from here
                transport.pause_reading()
                return
            out = session.more()
            if out:
                transport.pause_reading()
                self.server.loop.call_soon(self.send, out)
                return
        if session.closing:
            transport.close()
        elif session.pending:
            self.offload(session.pending)
        else:
            transport.resume_reading()
            held, self.held = self.held, []
            for data in held:  # in order: from the first that gives an answer on, take() holds the rest again
                self.take(data)

    def offload(self, pending: "Deferred") -> None:
        """A CGI script runs off the loop; no more reading from this connection until its answer is sent."""
        self.transport.pause_reading()
        if pending is not self.running:
            self.running = pending
            self.server.off_loop(pending.run).add_done_callback(self.resumed)

    def resumed(self, future: "asyncio.Future[Response]") -> None:
        if not self.transport.is_closing():
            self.send(cast(Session, self.session).resume(future.result()))

    def check_deadline(self, now: float) -> None:
        """SPEC §4's read deadlines, from the sweep: idle or slow clients (not while a send waits)."""
        session = cast(Session, self.session)  # the sweep checks only the connections that have one
        if self.writing and now >= session.deadline():
            self.send(session.timed_out())


# --- server classes -------------------------------------------------------------


def new_loop(name: str | None) -> asyncio.AbstractEventLoop:
    """--loop: the standard library's event loop, or uvloop's (libuv, the loop uvicorn runs on)."""
    if name == "uvloop":
        import uvloop  # an optional extra: the options refused --loop uvloop when it is missing

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Server:
    """The loop, the listener and the open connections; a model subclass says how it starts serving.

    Methods a model overrides: `start(listener)` (a coroutine returning the asyncio.Server) and `check`."""

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle) -> None:
        self.app, self.options, self.lifecycle = app, options, lifecycle
        self.connections: dict[asyncio.WriteTransport, Session] = {}
        self.loop = new_loop(options.loop)
        asyncio.set_event_loop(self.loop)
        listener = socket.socket(family(options.host), socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the port at once
        cap_send_buffer(listener)
        try:
            listener.bind((options.host, options.port))
        except OSError:
            listener.close()
            raise
        self.address = listener.getsockname()
        self.server = self.loop.run_until_complete(self.start(listener))  # listens with --backlog
        self.loop.call_later(SWEEP_S, self.sweep)
        self.stopped = self.loop.create_future()
        lifecycle.on_stop(self.request_stop)

    async def start(self, listener: socket.socket) -> asyncio.Server:
        raise NotImplementedError

    def sweep(self) -> None:
        """Every SWEEP_S: close a send stalled past --send-timeout (SPEC §4), then the model's own checks."""
        now = time.monotonic()
        for transport, session in list(self.connections.items()):
            waiting = transport.get_write_buffer_size()
            if session.send_clock.stalled(waiting and waiting + kernel_unsent(transport.get_extra_info("socket")), now):
                transport.abort()
            else:
                self.check(transport, now)
        self.loop.call_later(SWEEP_S, self.sweep)

    def check(self, transport: asyncio.WriteTransport, now: float) -> None:
        """A model's own deadline checks at each sweep (SPEC §4's read deadlines)."""

    def serve(self) -> None:
        """Run the loop until a stop; then close the listener so new connections are refused."""
        for signum in (signal.SIGTERM, signal.SIGINT):  # through the loop's wake-up fd: a signal that lands just
            self.loop.add_signal_handler(signum, self.lifecycle.stop)  # before epoll_wait is not lost to the sleep
        self.loop.run_until_complete(self.stopped)
        self.server.close()

    def request_stop(self) -> None:
        """From the signal handler: wake the loop to stop (it may be waiting in epoll)."""
        try:
            self.loop.call_soon_threadsafe(self.stop)
        except RuntimeError:  # the loop is closed already: nothing left to stop
            pass

    def stop(self) -> None:
        if not self.stopped.done():
            self.stopped.set_result(None)

    def open(self, transport: asyncio.WriteTransport) -> Session | None:
        """A new connection's Session (TCP_NODELAY unless --no-nodelay); None past --max-connections."""
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, self.options.nodelay)
        if len(self.connections) >= self.options.max_connections:
            return None
        transport.set_write_buffer_limits(high=0)  # pause_writing (and drain waits) until the kernel took it all
        client, local = transport.get_extra_info("peername"), lambda: transport.get_extra_info("sockname")
        session = Session(self.app, self.options, self.lifecycle, client, local, defer=True)
        self.connections[transport] = session
        return session

    def off_loop(self, work: Callable[[], Result]) -> asyncio.Future[Result]:
        """A CGI script's run, in a thread: a future on this loop for its answer."""
        future: asyncio.Future[Result] = self.loop.create_future()

        def done(result: Result) -> None:  # in the worker thread: hand the result to the loop
            self.loop.call_soon_threadsafe(future.set_result, result)

        in_thread(work, done)
        return future

    def forget(self, transport: asyncio.WriteTransport) -> None:
        self.connections.pop(transport, None)

    def drain(self, deadline: float) -> None:
        """Close the idle connections, let the others finish their request until `deadline`, then end the loop."""
        self.loop.run_until_complete(self.close_all(deadline))
        self.loop.close()

    async def close_all(self, deadline: float) -> None:
        while self.connections and time.monotonic() < deadline:
            for transport, session in list(self.connections.items()):
                if session.is_idle() and not transport.get_write_buffer_size():
                    transport.close()
            await asyncio.sleep(DRAIN_POLL_S)
        for transport in list(self.connections):
            transport.abort()
        await asyncio.sleep(0)  # let the aborted connections' callbacks run


class StreamsServer(Server):
    """The `streams` model: asyncio.start_server, a coroutine per connection over StreamReader/StreamWriter."""

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle) -> None:
        self.reading: Reading = {}
        super().__init__(app, options, lifecycle)

    def check(self, transport: asyncio.WriteTransport, now: float) -> None:
        """A read waiting past the Session's deadline (SPEC §4: idle or slow clients) is cancelled: 408 or close."""
        task = self.reading.get(transport)
        if task is not None and now >= self.connections[transport].deadline():
            task.cancel(DEADLINE)

    async def start(self, listener: socket.socket) -> asyncio.Server:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await serve_stream(reader, writer, self)
            finally:
                self.forget(writer.transport)

        return await asyncio.start_server(connected, sock=listener, backlog=self.options.backlog)


class ProtocolServer(Server):
    """The `protocol` model: loop.create_server and an asyncio.Protocol per connection, the API uvicorn uses."""

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle) -> None:
        self.answered: list[tuple[Connection, bytes]] = []  # this turn's answers to what was read, to send at its end
        super().__init__(app, options, lifecycle)

    def send_at_turn_end(self, connection: Connection, out: bytes) -> None:
        """Send `out` once the loop has run every read of this turn. A client on many connections (a proxy, a load
        generator) takes the batch in one wake-up, where a send after each read would wake it for each answer, and
        on one host each wake-up is a cross-CPU interrupt that the sender pays in system time."""
        if not self.answered:  # the first answer of the turn: the loop runs the sends after this turn's callbacks
            self.loop.call_soon(self.send_answers)
        self.answered.append((connection, out))

    def send_answers(self) -> None:
        answered, self.answered = self.answered, []
        for connection, out in answered:
            connection.queued = False
            connection.send(out)

    async def start(self, listener: socket.socket) -> asyncio.Server:
        return await self.loop.create_server(lambda: Connection(self), sock=listener, backlog=self.options.backlog)

    def check(self, transport: asyncio.WriteTransport, now: float) -> None:
        """Time out idle and slow clients (SPEC §4)."""
        cast(Connection, transport.get_protocol()).check_deadline(now)  # this model's transports all carry one


MODELS = {"streams": StreamsServer, "protocol": ProtocolServer}


# --- make_server and main --------------------------------------------------------


def make_server(app: App, options: ServerOptions, lifecycle: Lifecycle) -> Server:
    return MODELS[options.model](app, options, lifecycle)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    return run("asyncio_impl", list(MODELS), make_server, argv, prog, loops=True)
