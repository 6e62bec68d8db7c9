"""The pure-Python floor of the reference block: one selectors loop that answers without parsing.

    python -m bench.floor_server [--port 0]

It reads whatever a connection sends, counts the requests in it by their blank line (`\\r\\n\\r\\n`),
and writes as many copies of one canned `/plaintext` answer (the same bytes a layer sends, its Date
header renewed once a second). No request line, no header, no route, no app: what is left is the
least a Python server pays per request for the loop, the system calls and the bytes. It sends a turn's
answers after all its reads, as the layers' event loops do (one wake-up of the client for the batch),
so no layer's distance from it is the price of sending sooner. Each layer's
distance from this row (µs per request) is what its parsing, its app and its layer cost together.
Only for `make bench-reference`, with wrk's GET requests (no bodies); it is not an HTTP server and
must never be offered as one. Prints `listening on http://HOST:PORT` like every layer; stops on SIGTERM.
"""

import argparse
import selectors
import signal
import socket
import time
from email.utils import formatdate

BODY = b"Hello, World!"
END = b"\r\n\r\n"  # the end of a request's head: one per request of a body-less GET
CHUNK = 65536


def answer(now: float) -> bytes:
    """The canned answer to GET /plaintext, with a Date of `now`."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n"
            b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\nServer: server-layers (floor)\r\n\r\n" + BODY)


class Floor:
    """The loop: accept, read, count blank lines, write the canned answer that many times."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ)
        self.tails: dict[socket.socket, bytes] = {}  # the last 3 bytes read: a blank line may span two reads
        self.pending: dict[socket.socket, bytes] = {}  # what the kernel did not take yet
        self.answered: list[tuple[socket.socket, bytes]] = []  # this turn's answers, sent once all its reads are done
        self.second, self.canned = 0, b""
        self.running = True

    def serve(self) -> None:
        while self.running:
            for key, events in self.selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    self.accept()
                elif events & selectors.EVENT_WRITE:
                    self.flush(sock, b"")
                else:
                    self.read(sock)
            answered, self.answered = self.answered, []
            for sock, answers in answered:  # after the turn's reads, as the layers' event loops send
                self.flush(sock, answers)
        self.selector.close()

    def accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tails[sock] = b""
        self.selector.register(sock, selectors.EVENT_READ)

    def read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close(sock)
            return
        seen = self.tails[sock] + data
        self.tails[sock] = seen[-3:]
        count = seen.count(END)
        if count:
            self.answered.append((sock, self.answer() * count))

    def answer(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second, self.canned = now, answer(now)
        return self.canned

    def flush(self, sock: socket.socket, more: bytes) -> None:
        """Send what is pending and `more`; wait for the socket to be writable if the kernel takes less."""
        waiting = sock in self.pending
        data = self.pending.pop(sock, b"") + more
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close(sock)
            return
        if sent < len(data):
            self.pending[sock] = data[sent:]
        if waiting != (sock in self.pending):  # a system call only when the socket's interest changes
            self.selector.modify(sock, selectors.EVENT_WRITE if sock in self.pending else selectors.EVENT_READ)

    def close(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        self.tails.pop(sock, None)
        self.pending.pop(sock, None)
        sock.close()

    def stop(self, *_: object) -> None:
        self.running = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    listener = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    listener.setblocking(False)
    floor = Floor(listener)
    signal.signal(signal.SIGTERM, floor.stop)
    host, port = listener.getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    floor.serve()
    listener.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
