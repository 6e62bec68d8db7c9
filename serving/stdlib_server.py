"""What socketserver-based layers (socketserver_impl, http_server_impl) add to TCPServer alike.

The contract's equal-footing defaults and the graceful stop; no request handling.
"""

import os
import socket
import socketserver
import threading
from typing import TYPE_CHECKING, cast

from http11 import Address

from .blocking import admit
from .contract import App, Lifecycle, ServerOptions
from .lifecycle import stop_children
from .runner import family
from .sending import cap_send_buffer

MAX_CHILDREN = 1_000_000  # ForkingMixIn blocks accepting at 40 children; Capped answers 503 at --max-connections

# what socketserver hands a server's hooks as `request` (a TCP server's is the accepted socket)
SocketRequest = socket.socket | tuple[bytes, socket.socket]

if TYPE_CHECKING:  # for mypy, each mixin is what it is mixed into; at run time it is a plain class before it in the MRO
    _TCPServer = socketserver.TCPServer
else:
    _TCPServer = object


class ManagedServer(_TCPServer):
    """Mixed in before a socketserver.TCPServer subclass (and its Threading/Forking mixin)."""

    allow_reuse_address = True  # restart on the same port at once (TCPServer's default is off)

    def __init__(self, app: App, options: ServerOptions, lifecycle: Lifecycle,
                 handler: type[socketserver.BaseRequestHandler]) -> None:
        self.address_family = family(options.host)
        self.request_queue_size = options.backlog  # socketserver's default is 5; every layer uses --backlog
        self.app, self.options, self.lifecycle = app, options, lifecycle
        super().__init__((options.host, options.port), handler)
        cap_send_buffer(self.socket)  # before the first accept: every connection inherits it
        self.address: Address = self.socket.getsockname()
        lifecycle.on_stop(lambda: threading.Thread(target=self.shutdown, daemon=True).start())

    def serve(self) -> None:
        """serve_forever until a signal; then close the listener (new connections are refused)."""
        self.serve_forever()
        self.server_close()

    def drain(self, deadline: float) -> None:
        children = getattr(self, "active_children", None)
        if children:
            stop_children(children, deadline)
        self.lifecycle.wait_drained(deadline)

    def finish_request(self, request: SocketRequest, client_address: Address) -> None:
        child = os.getpid() != self.lifecycle.pid
        if child:  # a forked child: let go of the listener at once, so a stop refuses new clients
            self.socket.close()
        super().finish_request(request, client_address)
        if child:
            self.app.close()


if TYPE_CHECKING:
    _ManagedServer = ManagedServer
else:
    _ManagedServer = object


class Capped(_ManagedServer):
    """Before the Threading/Forking mixin: past --max-connections, answer 503 instead of a thread or process."""

    def process_request(self, request: SocketRequest, client_address: Address) -> None:
        if admit(cast(socket.socket, request), self.open_connections(), self.options):  # TCP: the accepted socket
            super().process_request(request, client_address)

    def open_connections(self) -> int:
        return self.lifecycle.open_connections()


class Threading(Capped, socketserver.ThreadingMixIn):
    """socketserver's ThreadingMixIn with the cap; its defaults here come before the mixin's in the MRO."""

    daemon_threads = True  # never wait forever for a keep-alive thread; drain() waits with a deadline
    block_on_close = False  # likewise at server_close()


class Forking(Capped, socketserver.ForkingMixIn):
    """socketserver's ForkingMixIn with the cap."""

    block_on_close = False  # drain() waits for the children with a deadline
    max_children = MAX_CHILDREN

    def open_connections(self) -> int:
        """The live children, once there are any (ForkingMixIn's set starts as None); until then, as Capped."""
        if self.active_children is not None:
            self.collect_children()
            return len(self.active_children)
        return super().open_connections()
