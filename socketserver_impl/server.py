"""The server on `socketserver`: it gives the accept loop and the models (mixins).

http11 parses what the handler's socket yields, webapp answers; this module must not import another layer.
"""

import socketserver

from serving.blocking import serve_connection
from serving.contract import App, Lifecycle, ServerOptions
from serving.runner import run
from serving.session import Session
from serving.stdlib_server import Forking, ManagedServer, Threading

READ_SIZE = 65536

# --- connection loop -----------------------------------------------------------


class Handler(socketserver.StreamRequestHandler):
    """One connection: the shared recv/Session/send loop over the handler's socket, `self.connection`.

    Not over rfile: each rfile.read(n) runs socket.SocketIO.readinto, a Python method, around the recv that the
    socket's own recv(n) makes in one C call."""

    disable_nagle_algorithm = True  # TCP_NODELAY, as on every layer
    rbufsize = 0  # rfile, which this handler does not read, holds no buffer either
    server: "Server"  # the server below that made this handler (socketserver types it BaseServer)

    def setup(self) -> None:
        # --no-nodelay, a benchmark knob; typeshed types the flag ClassVar, but setup() reads it per instance
        self.disable_nagle_algorithm = self.server.options.nodelay  # type: ignore[misc]
        super().setup()

    def handle(self) -> None:
        server = self.server
        session = Session(server.app, server.options, server.lifecycle, self.client_address,
                          self.connection.getsockname)
        serve_connection(self.connection, lambda: self.connection.recv(READ_SIZE), session)


# --- server class ---------------------------------------------------------------


class Server(ManagedServer, socketserver.TCPServer):
    """socketserver.TCPServer with the contract's defaults (see serving.stdlib_server)."""


class ThreadingServer(Threading, Server):
    """The `threaded` model: a thread per connection (as CPython's socketserver.ThreadingTCPServer)."""


class ForkingServer(Forking, Server):
    """The `forking` model: a process per connection (as CPython's socketserver.ForkingTCPServer)."""


MODELS = {"iterative": Server, "threaded": ThreadingServer, "forking": ForkingServer}


# --- make_server and main --------------------------------------------------------


def make_server(app: App, options: ServerOptions, lifecycle: Lifecycle) -> Server:
    return MODELS[options.model](app, options, lifecycle, Handler)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    return run("socketserver_impl", list(MODELS), make_server, argv, prog)
