"""The app as an ASGI 3 application: `uvicorn adapters.asgi:app`.

The host server parses and frames; this turns the scope and the body events into an http11.Request
and the app's Response into two send events. The app runs on the loop, as on asyncio_impl; a CGI
script (a Deferred) runs in a thread, so the loop never waits for it.
"""

import asyncio

from http11 import Origin
from webapp.cgi import Deferred

from . import decided, finished, make_app, request


def target(scope: dict) -> str:
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def origin(scope: dict) -> Origin:
    local = tuple(scope.get("server") or ("", 0))
    return Origin("asgi", tuple(scope.get("client") or ("", 0)), lambda: local)


async def read_body(receive) -> bytes:
    chunks = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            break
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            break
    return b"".join(chunks)


class Application:
    """The ASGI app; the app behind it made at lifespan start-up (or the first request) and closed at shutdown."""

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive, send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                self.app = self.app or make_app()
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                if self.app:
                    self.app.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict, receive, send) -> None:
        self.app = self.app or make_app()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        parsed = request(scope["method"], target(scope), f"HTTP/{scope['http_version']}", headers,
                         await read_body(receive), origin(scope))
        response = decided(self.app, parsed)
        if isinstance(response, Deferred):
            response = await asyncio.to_thread(response.run)
        status, fields, body = finished(parsed, response)
        await send({"type": "http.response.start", "status": status.value,
                    "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]})
        await send({"type": "http.response.body", "body": body})


app = Application()
