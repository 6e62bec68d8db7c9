"""The application: one Request in, one Response out, the same for every layer.

It turns its own exceptions into 500 in one place; it never touches a socket.
"""

import re
import sys
import traceback
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple

from http11 import Request, Response, error_response

from .cgi import Deferred, Gateway
from .routes import ROUTES, BadInput, Methods
from .store import MessageStore

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}


def allowed(methods: Methods) -> list[str]:
    """The methods a path answers: its handlers, HEAD with GET, and OPTIONS (unless the table maps it to None)."""
    names = {name for name, handler in methods.items() if handler} | ({"HEAD"} if "GET" in methods else set())
    return sorted(names | ({"OPTIONS"} if "OPTIONS" not in methods else set()))


SERVED = sorted({name for _, methods in ROUTES for name in allowed(methods)})


class Route(NamedTuple):
    pattern: re.Pattern[str]
    methods: Methods
    allow: tuple[str, str]  # the Allow field of 405 and OPTIONS


def literal(pattern: re.Pattern[str]) -> str | None:
    """The one path a pattern without metacharacters matches, or None."""
    text = pattern.pattern.replace("\\", "")
    return text if re.escape(text) == pattern.pattern else None


def exact_paths(routes: list[Route]) -> dict[str, tuple[Route, re.Match[str]]]:
    """Literal paths answered by one dict lookup: only where the table scan would pick the same route."""
    exact = {}
    for position, route in enumerate(routes):
        path = literal(route.pattern)
        if (
            path is not None
            and not any(earlier.pattern.fullmatch(path) for earlier in routes[:position])
            and (match := route.pattern.fullmatch(path)) is not None  # always, for a literal path
        ):
            exact[path] = (route, match)
    return exact


TABLE = [Route(pattern, methods, ("Allow", ", ".join(allowed(methods)))) for pattern, methods in ROUTES]
EXACT = exact_paths(TABLE)


def failed(exc: Exception) -> Response:
    """The answer to a route that raised: its BadInput's status and detail, or a 500 with the traceback on stderr."""
    if isinstance(exc, BadInput):
        return error_response(exc.status, detail=exc.detail)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR)


class App:
    """The guestbook app over a MessageStore in `data_dir`, and the CGI gateway of `gateway` (SPEC §7)."""

    def __init__(self, data_dir: Path, gateway: Gateway | None = None) -> None:
        self.store = MessageStore(data_dir)
        self.gateway = gateway or Gateway()

    def handle(self, request: Request) -> Response | Deferred:
        """Answer one request (a CGI script's answer is Deferred: see webapp.cgi); a bug becomes a 500 with its
        traceback on stderr. HEAD gets GET's answer; serving.session drops the body for every layer."""
        try:
            response = self.dispatch(request)
        except Exception as exc:
            return failed(exc)
        if isinstance(response, Deferred):  # its run is guarded alike
            return Deferred(lambda: self.guarded(response.work))
        return response

    @staticmethod
    def guarded(work: Callable[[], Response]) -> Response:
        """A deferred answer's work, run off the loop, guarded as handle() guards the app's own."""
        try:
            return work()
        except Exception as exc:
            return failed(exc)

    def dispatch(self, request: Request) -> Response | Deferred:
        method = request.method
        if method not in KNOWN_METHODS or method == "CONNECT":
            return error_response(HTTPStatus.NOT_IMPLEMENTED)
        if request.target == "*":
            return Response(HTTPStatus.OK, [("Allow", ", ".join(SERVED))])
        path = request.path.partition("?")[0]
        found = EXACT.get(path) or self.scan(path)
        if found is not None:
            route, match = found
            return self.call(route, request, match)
        if method == "TRACE":
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", ", ".join(SERVED))])
        return error_response(HTTPStatus.NOT_FOUND)

    @staticmethod
    def scan(path: str) -> tuple[Route, re.Match[str]] | None:
        """The first route of the table whose pattern matches `path` (with its match), or None."""
        for route in TABLE:
            match = route.pattern.fullmatch(path)
            if match:
                return route, match
        return None

    def call(self, route: Route, request: Request, match: re.Match[str]) -> Response | Deferred:
        if request.method == "OPTIONS" and "OPTIONS" not in route.methods:
            return Response(HTTPStatus.OK, [route.allow])
        handler = route.methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, [route.allow])
        return handler(self, request, match)

    def close(self) -> None:
        self.store.close()
