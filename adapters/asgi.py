"""The app as an ASGI 3 application: `uvicorn adapters.asgi:app`.

The host server parses and frames; this turns the scope and the body events into an http11.Request
and the app's Response into two send events. The app runs on the loop, as on asyncio_impl; a CGI
script (a Deferred) runs in a thread, so the loop never waits for it.
"""

import asyncio

from http11 import Origin
from http11.limits import MAX_BODY
from serving.session import decide
from webapp.app import App
from webapp.cgi import Deferred

from . import make_app, parts_for, refused, request


def target(scope: dict) -> str:
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def origin(scope: dict) -> Origin:
    local = tuple(scope.get("server") or ("", 0))
    return Origin("asgi", tuple(scope.get("client") or ("", 0)), lambda: local)


async def read_body(receive) -> bytes | None:
    """The whole body; None when the client went away first (the app never sees a body cut short)."""
    chunks, size = [], 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return None
        chunks.append(event.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY or not event.get("more_body"):
            return b"".join(chunks)


class Application:
    """The ASGI app; the app behind it made at lifespan start-up (or the first request) and closed at shutdown."""

    def __init__(self) -> None:
        self.app: App | None = None

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive, send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                try:
                    self.app = self.app or make_app()
                except Exception as exc:  # the server stops with this one line rather than serve 500s
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                if self.app:
                    self.app.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict, receive, send) -> None:
        app = self.app = self.app or make_app()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        content = await read_body(receive)
        if content is None:
            return
        if refusal := refused(len(content)):
            return await self.send_answer(send, *refusal)
        parsed = request(scope["method"], target(scope), f"HTTP/{scope['http_version']}", headers, content,
                         origin(scope))
        response = decide(app, parsed)
        if isinstance(response, Deferred):
            response = await asyncio.to_thread(response.run)
        await self.send_answer(send, *parts_for(parsed, response))

    @staticmethod
    async def send_answer(send, status, fields: list[tuple[str, str]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status.value,
                    "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]})
        await send({"type": "http.response.body", "body": body})


app = Application()
