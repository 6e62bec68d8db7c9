"""The reference point's app for uvicorn: a bare ASGI callable, GET /plaintext -> "Hello, World!" text/plain.

`.venv-reference/bin/uvicorn bench.reference_app:app` (bench/reference.py starts it).
No framework, no dependency: what is measured is uvicorn (uvloop + httptools) itself.
"""

BODY = b"Hello, World!"
OK_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(BODY)).encode())]
NOT_FOUND_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")]


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/plaintext":
        await send({"type": "http.response.start", "status": 200, "headers": OK_HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": NOT_FOUND_HEADERS})
        await send({"type": "http.response.body", "body": b"Not Found"})
