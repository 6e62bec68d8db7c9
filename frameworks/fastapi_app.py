"""The guestbook in FastAPI (ASGI): `uvicorn frameworks.fastapi_app:app`.

Routes are path operations (HEAD declared beside GET: FastAPI adds none), the `limit` query and the
message body are validated by type declarations (pydantic), StaticFiles and FileResponse serve files
(Content-Type, Last-Modified, 304), and the router gives 404 and 405 (with Allow). Blocking SQLite calls
run in FastAPI's thread pool (plain `def` operations). What FastAPI does not say as SPEC §3 wants it,
its exception handlers reword: the plain-text error body, and 400 where FastAPI says 422.
"""

from base64 import b64encode
from contextlib import asynccontextmanager
from traceback import print_exception
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from webapp.page import render
from webapp.store import utc_now_iso

from . import (
    DEFAULT_LIMIT,
    FORM,
    FORM_RULE,
    JSON,
    JSON_RULE,
    MAX_ID,
    MAX_LIMIT,
    MEDIA_RULE,
    STATIC_DIR,
    Refused,
    checked,
    error_text,
    one_line,
    open_store,
)

GET = ["GET", "HEAD"]


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.store = open_store()
    yield
    app.state.store.close()


app = FastAPI(lifespan=lifespan, openapi_url=None)  # no /docs, /redoc, /openapi.json: the SPEC's routes only
app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


class NewMessage(BaseModel):
    text: str


@app.api_route("/", methods=GET)
def home(request: Request):
    return HTMLResponse(render(request.app.state.store.latest(DEFAULT_LIMIT)))


@app.api_route("/test.jpg", methods=GET)
def image():
    return FileResponse(STATIC_DIR / "test.jpg")


@app.api_route("/plaintext", methods=GET, response_class=PlainTextResponse)
def plaintext():
    return "Hello, World!"


@app.api_route("/time", methods=GET, response_class=PlainTextResponse)
def time_now():
    return utc_now_iso()


@app.api_route("/messages", methods=GET)
def list_messages(request: Request, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT):
    return {"messages": request.app.state.store.latest(limit)}


@app.post("/messages")
async def post_message(request: Request):
    """One path, two media types: FastAPI takes a body's kind from the signature (Form or a model, not
    either), so the operation asks the request itself, and pydantic checks what it read."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip(" \t").lower()
    if media_type == JSON:
        try:
            data = await request.json()
        except ValueError:
            raise Refused('the body must be JSON in UTF-8, e.g. {"text": "Hello"}') from None
        try:
            text = NewMessage.model_validate(data, strict=True).text
        except ValidationError:
            raise Refused(JSON_RULE) from None
    elif media_type == FORM:
        form = await request.form()
        if not isinstance(form.get("text"), str):
            raise Refused(FORM_RULE)
        text = form["text"]
    else:
        raise Refused(MEDIA_RULE, 415)
    message = await run_in_threadpool(request.app.state.store.add, checked(text))
    if media_type == FORM:
        return Response(status_code=303, headers={"Location": "/"})
    return JSONResponse(message, 201, {"Location": str(request.url_for("one_message", message_id=message["id"]).path)})


@app.api_route("/messages/{message_id:int}", methods=GET)
def one_message(request: Request, message_id: int):
    message = request.app.state.store.get(message_id) if message_id <= MAX_ID else None
    if message is None:
        raise HTTPException(404)
    return message


@app.api_route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def echo(request: Request):
    query = request.url.query
    return {"method": request.method, "target": request.url.path + (f"?{query}" if query else ""),
            "version": f"HTTP/{request.scope['http_version']}",
            "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in request.headers.raw],
            "body_base64": b64encode(await request.body()).decode("ascii")}


def error(status: int, detail: str | None = None, headers=None) -> PlainTextResponse:
    return PlainTextResponse(error_text(status, detail), status, headers)


@app.exception_handler(Refused)
async def refused(request: Request, exc: Refused):
    return error(exc.status, exc.detail)


@app.exception_handler(RequestValidationError)
async def invalid(request: Request, exc: RequestValidationError):
    """FastAPI's 422 for a query that fails its declaration: SPEC §2 says 400, with what to change."""
    problem = exc.errors()[0]
    return error(400, one_line(f"{problem['loc'][-1]}: {problem['msg']}"))


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException):
    """The router's 404 and 405 (its Allow kept), StaticFiles' 404, in SPEC §3's words."""
    return error(exc.status_code, headers=exc.headers)


@app.exception_handler(Exception)
async def crashed(request: Request, exc: Exception):
    """A bug: 500, its traceback on stderr first. Starlette raises the exception again once the 500 is sent, and
    uvicorn logs it a second time, but only then: a client that has its answer may not find it in the log yet."""
    print_exception(exc)
    return error(500)
