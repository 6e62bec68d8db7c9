"""The server contract, as types: what a layer's `make_server` takes and what it gives back to the runner.

Types only, no behaviour: a layer annotates with them, serving.runner relies on them, mypy holds both to them.
"""

from typing import Protocol

from http11 import Address as Address  # re-exported: the address a server is bound to is part of the contract
from webapp import App

from .lifecycle import Lifecycle
from .options import ServerOptions

__all__ = ["App", "Lifecycle", "MakeServer", "Server", "ServerOptions"]


class Server(Protocol):
    """A layer's server, listening once made: `address` is what it is bound to (announced as `listening on`);
    `serve()` answers until a stop signal; `drain(deadline)` lets the requests in flight finish until then."""

    address: Address

    def serve(self) -> None: ...

    def drain(self, deadline: float) -> None: ...


class MakeServer(Protocol):
    """A layer's `make_server(app, options, lifecycle)`: its server for `options.model`, bound and listening."""

    def __call__(self, app: App, options: ServerOptions, lifecycle: Lifecycle) -> Server: ...
