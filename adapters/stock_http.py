"""The app behind a STOCK http.server handler: what http.server gives, and nothing it lacks added.

BaseHTTPRequestHandler reads and splits each request (its own parser, its own leniency); this
handler hands every method the app knows to the app and writes the answer with the stock calls
(send_response, send_header, end_headers, a second write for the body). Where stock falls short of
the contract (no chunked bodies: a body is Content-Length bytes or nothing, past the contract's limit
413 rather than read into memory, cut short left unanswered; HTTP/0.9; lenient field
lines; the head and the body in two sends), it stays short: this is the reference column the
project's http_server_impl is compared with. bench/stock_server.py serves it.
"""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from http11 import Origin
from webapp.app import KNOWN_METHODS, App

from . import app_parts, declared_length, refused, request


class AppServer(ThreadingHTTPServer):
    """A stock threading server that holds the app its handlers hand requests to (set before it serves)."""

    app: App


class Handler(BaseHTTPRequestHandler):
    """Stock parsing and framing; the app (`server.app`) answers."""

    server: AppServer  # the server it was made for: stock_server's, an AppServer

    protocol_version = "HTTP/1.1"  # keep-alive; the stock HTTP/1.0 closes after every response
    keepalive = True  # False: `Connection: close` on every response (a benchmark knob)

    def serve(self) -> None:
        length = declared_length(self.headers.get("Content-Length"))
        if refusal := refused(length):
            return self.reply(*refusal, close=True)
        content = self.rfile.read(length)
        if len(content) < length:  # the client went away mid-body: nothing to answer, nothing to store
            self.close_connection = True
            return
        parsed = request(self.command, self.path, self.request_version, list(self.headers.items()), content,
                         Origin(self.version_string(), self.client_address, self.connection.getsockname))
        self.reply(*app_parts(self.server.app, parsed), close=not self.keepalive)

    def reply(self, status, fields: list[tuple[str, str]], body: bytes, close: bool = False) -> None:
        """The stock calls: status line, fields, end_headers (a send), the body (a second send)."""
        self.send_response(status)
        for name, value in fields:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # stock send_header then closes after this response
        self.end_headers()
        self.wfile.write(body)


for _method in KNOWN_METHODS:  # every method the app answers goes to it (stock: 501 for a method without do_*)
    setattr(Handler, f"do_{_method}", Handler.serve)
