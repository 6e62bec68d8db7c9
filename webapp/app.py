"""The application: one Request in, one Response out, the same for every layer.

It turns its own exceptions into 500 in one place; it never touches a socket.
"""

import sys
import traceback
from http import HTTPStatus
from pathlib import Path

from http11 import Request, Response, error_response

from .routes import ROUTES, BadInput
from .store import MessageStore

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}


def allowed(methods: dict) -> list[str]:
    """The methods a path answers: its handlers, HEAD with GET, and OPTIONS."""
    names = set(methods) | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
    return sorted(names)


SERVED = sorted({name for _, methods in ROUTES for name in allowed(methods)})


class App:
    """The guestbook app over a MessageStore in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.store = MessageStore(data_dir)

    def handle(self, request: Request) -> Response:
        """Answer one request; a bug becomes a 500 with its traceback on stderr."""
        try:
            response = self.dispatch(request)
        except BadInput as exc:
            response = error_response(exc.status)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            response = error_response(HTTPStatus.INTERNAL_SERVER_ERROR)
        if request.method == "HEAD":  # the same status and headers as GET, never a body
            response.body = b""
        return response

    def dispatch(self, request: Request) -> Response:
        method = request.method
        if method not in KNOWN_METHODS or method == "CONNECT":
            return error_response(HTTPStatus.NOT_IMPLEMENTED)
        if request.target == "*":
            return Response(HTTPStatus.OK, [("Allow", ", ".join(SERVED))])
        path = request.path.partition("?")[0]
        for pattern, methods in ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return self.call(methods, request, match)
        if method == "TRACE":
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", ", ".join(SERVED))])
        return error_response(HTTPStatus.NOT_FOUND)

    def call(self, methods: dict, request: Request, match) -> Response:
        allow = ("Allow", ", ".join(allowed(methods)))
        if request.method == "OPTIONS":
            return Response(HTTPStatus.OK, [allow])
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, [allow])
        return handler(self, request, match)

    def close(self) -> None:
        self.store.close()
