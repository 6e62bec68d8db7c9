"""The route table, once for every layer: path -> {method: handler}.

Handlers take (app, request, match) and return a Response (the CGI route's: a Deferred one). No layer, no socket.
"""

import base64
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from http11 import Headers, Request, Response, error_response

from . import cgi, page, static
from .store import MessageStore, utc_now_iso


class App(Protocol):
    """What a handler takes from the app (webapp.app.App): its store and its CGI gateway. A protocol, so that this
    table, which app.py imports, imports nothing of app.py."""

    store: MessageStore
    gateway: cgi.Gateway

JSON = ("Content-Type", "application/json")
TEXT = ("Content-Type", "text/plain; charset=utf-8")
OK = HTTPStatus.OK  # read once: on Python 3.11 each `HTTPStatus.OK` is a Python-level descriptor call (0.3 µs)
MAX_TEXT = 1000
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


class BadInput(Exception):
    """The request's content is unusable: answer `status`, with `detail`, one line saying what to change."""

    def __init__(self, detail: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
TEXT_RULE = f"text must be 1 to {MAX_TEXT} characters"

Handler = Callable[[App, Request, re.Match[str]], "Response | cgi.Deferred"]
Methods = dict[str, Handler | None]  # a method mapped to None is not answered, not even by the app's defaults


def json_response(status: HTTPStatus, value: object, headers: Headers | None = None) -> Response:
    body = json.dumps(value, separators=(",", ":")).encode()
    return Response(status, [JSON, *(headers or [])], body)


def home(app: App, request: Request, match: re.Match[str]) -> Response:
    body = page.render(app.store.latest(DEFAULT_LIMIT))
    return Response(OK, [("Content-Type", "text/html; charset=utf-8")], body)


def jpeg_image(app: App, request: Request, match: re.Match[str]) -> Response:
    return static.serve("test.jpg", request)


def plaintext(app: App, request: Request, match: re.Match[str]) -> Response:
    return Response(OK, [TEXT], b"Hello, World!")


def time_now(app: App, request: Request, match: re.Match[str]) -> Response:
    return Response(OK, [TEXT], utc_now_iso().encode())


def list_messages(app: App, request: Request, match: re.Match[str]) -> Response:
    query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
    limits = query.get("limit", [str(DEFAULT_LIMIT)])
    if len(limits) != 1 or not re.fullmatch(r"[0-9]{1,3}", limits[0]) or not 1 <= int(limits[0]) <= MAX_LIMIT:
        raise BadInput(f"limit must be one whole number from 1 to {MAX_LIMIT}")
    return json_response(OK, {"messages": app.store.latest(int(limits[0]))})


def post_message(app: App, request: Request, match: re.Match[str]) -> Response:
    media_type = (request.header("content-type") or "").partition(";")[0].strip(" \t").lower()
    readers = {FORM: form_text, JSON_TYPE: json_text}
    if media_type not in readers:
        raise BadInput(f"send the message as {FORM} (a field named text) or as {JSON_TYPE} "
                       '({"text": "..."})', HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    message = app.store.add(check_text(readers[media_type](request.body)))
    if media_type == JSON_TYPE:
        return json_response(HTTPStatus.CREATED, message, [("Location", f"/messages/{message['id']}")])
    return Response(HTTPStatus.SEE_OTHER, [("Location", "/")])


def form_text(body: bytes) -> str:
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=bool(body), errors="strict", keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise BadInput(f"the body must be {FORM} in UTF-8, e.g. text=Hello") from None
    if "text" not in fields:
        raise BadInput("the form needs a field named text")
    return fields["text"][0]


def json_text(body: bytes) -> str:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadInput('the body must be JSON in UTF-8, e.g. {"text": "Hello"}') from None
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise BadInput('the JSON must be an object with a string "text", e.g. {"text": "Hello"}')
    return text


def check_text(text: str) -> str:
    """1 to 1000 characters after stripping, and encodable (no lone surrogates)."""
    text = text.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("text must be valid Unicode (no lone surrogates)") from None
    if not 1 <= len(text) <= MAX_TEXT:
        raise BadInput(TEXT_RULE)
    return text


def one_message(app: App, request: Request, match: re.Match[str]) -> Response:
    message = app.store.get(int(match["id"])) if len(match["id"]) <= 18 else None
    if message is None:
        return error_response(HTTPStatus.NOT_FOUND)
    return json_response(OK, message)


def static_file(app: App, request: Request, match: re.Match[str]) -> Response:
    return static.serve(match["path"], request)


def echo(app: App, request: Request, match: re.Match[str]) -> Response:
    return json_response(
        OK,
        {
            "method": request.method,
            "target": request.target,
            "version": request.version,
            "headers": [[name, value] for name, value in request.headers],
            "body_base64": base64.b64encode(request.body).decode("ascii"),
        },
    )


def cgi_script(app: App, request: Request, match: re.Match[str]) -> Response | cgi.Deferred:
    return cgi.answer(app.gateway, request)


ROUTES: list[tuple[re.Pattern[str], Methods]] = [
    (re.compile(r"/"), {"GET": home}),
    (re.compile(r"/test\.jpg"), {"GET": jpeg_image}),
    (re.compile(r"/plaintext"), {"GET": plaintext}),
    (re.compile(r"/time"), {"GET": time_now}),
    (re.compile(r"/messages"), {"GET": list_messages, "POST": post_message}),
    (re.compile(r"/messages/(?P<id>[1-9][0-9]*)"), {"GET": one_message}),
    (re.compile(r"/static/(?P<path>.*)"), {"GET": static_file}),
    (re.compile(r"/echo"), dict.fromkeys(("GET", "POST", "PUT", "PATCH", "DELETE"), echo)),
    (re.compile(r"/cgi-bin/.*", re.S), {"GET": cgi_script, "POST": cgi_script, "OPTIONS": None}),  # SPEC §7: no OPTIONS
]
