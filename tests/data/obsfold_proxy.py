"""A deliberately divergent server for the probe's tests: a proxy that accepts obs-fold.

It forwards every connection to a real server (--upstream HOST:PORT) byte for
byte, except that it unfolds obs-fold in the first request head it reads (a line
starting with space or tab is joined to the one before, as RFC 9112 §5.2 allows
a proxy to do but SPEC §5 forbids). So it answers exactly like the upstream but
where obs-fold is involved. Test data only: never a server of this project.

    python tests/data/obsfold_proxy.py --upstream 127.0.0.1:8000 [--port 0]
prints `listening on http://127.0.0.1:PORT`, like the layers, and serves until SIGTERM.
"""

import argparse
import re
import signal
import socket
import sys
import threading

HEAD_WAIT_S = 0.3  # how long to wait for the rest of a request head before forwarding what came
FOLD = re.compile(rb"\r?\n[ \t]+")


def unfold(data: bytes) -> bytes:
    """Join obs-fold continuation lines within the head (the bytes before the first empty line)."""
    end = data.find(b"\r\n\r\n")
    head, rest = (data[:end], data[end:]) if end >= 0 else (data, b"")
    return FOLD.sub(b" ", head) + rest


def read_head(client: socket.socket) -> bytes:
    """What the client sent until its head is complete, it stops sending, or it closes."""
    client.settimeout(HEAD_WAIT_S)
    data = b""
    try:
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, OSError):
        pass
    client.settimeout(None)
    return data


def pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy until EOF, then pass the half-close on."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve_one(client: socket.socket, upstream: tuple[str, int]) -> None:
    with client, socket.create_connection(upstream) as server:
        first = read_head(client)
        if first:
            server.sendall(unfold(first))
        back = threading.Thread(target=pipe, args=(server, client), daemon=True)
        back.start()
        pipe(client, server)
        back.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    host, port = args.upstream.rsplit(":", 1)
    listener = socket.create_server((args.host, args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on http://{args.host}:{listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve_one, args=(client, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
