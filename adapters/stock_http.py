"""The app behind a STOCK http.server handler: what http.server gives, and nothing it lacks added.

BaseHTTPRequestHandler reads and splits each request (its own parser, its own leniency); this
handler hands every method the app knows to the app and writes the answer with the stock calls
(send_response, send_header, end_headers, a second write for the body). Where stock falls short of
the contract (no chunked bodies: a body is Content-Length bytes or nothing; HTTP/0.9; lenient field
lines; the head and the body in two sends), it stays short: this is the reference column the
project's http_server_impl is compared with. bench/stock_server.py serves it.
"""

from http.server import BaseHTTPRequestHandler

from http11 import Origin
from webapp.app import KNOWN_METHODS

from . import answer, request


class Handler(BaseHTTPRequestHandler):
    """Stock parsing and framing; the app (`server.app`) answers."""

    protocol_version = "HTTP/1.1"  # keep-alive; the stock HTTP/1.0 closes after every response
    keepalive = True  # False: `Connection: close` on every response (a benchmark knob)

    def serve(self) -> None:
        length = self.headers.get("Content-Length")
        content = self.rfile.read(int(length)) if length and length.isdigit() else b""
        parsed = request(self.command, self.path, self.request_version, list(self.headers.items()), content,
                         Origin(self.version_string(), self.client_address, self.connection.getsockname))
        status, fields, body = answer(self.server.app, parsed)
        self.send_response(status)
        for name, value in fields:
            self.send_header(name, value)
        if not self.keepalive:
            self.send_header("Connection", "close")  # stock send_header then closes after this response
        self.end_headers()
        self.wfile.write(body)


for _method in KNOWN_METHODS:  # every method the app answers goes to it (stock: 501 for a method without do_*)
    setattr(Handler, f"do_{_method}", Handler.serve)
