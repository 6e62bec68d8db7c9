"""A message acknowledged is never lost: concurrent POSTs, SIGKILL mid-run, restart, all there."""

import json
import sqlite3
import threading

from helpers import kill_group, wait_for

from conformance.corpus import Closed, ResponseReader

CLIENTS, PER_CLIENT, KILL_AFTER = 6, 40, 60


def post_until_failure(server, client: int, acknowledged: list, stop: threading.Event) -> None:
    """Keep-alive POSTs; record each text the server acknowledged (201)."""
    try:
        with server.connect(timeout=5) as sock:
            reader = ResponseReader(sock.recv)
            for n in range(PER_CLIENT):
                if stop.is_set():
                    return
                body = json.dumps({"text": f"client {client} message {n}"}).encode()
                head = (b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n")
                sock.sendall(head % len(body) + body)
                answer = reader.read_response()
                if answer.status == 201:
                    acknowledged.append(json.loads(answer.body)["text"])
    except (OSError, Closed):
        pass  # the server was killed: what was acknowledged so far is what counts


def test_acknowledged_messages_survive_sigkill(variant, start_server):
    acknowledged: list[str] = []
    stop = threading.Event()
    with start_server(variant) as running:
        threads = [threading.Thread(target=post_until_failure, args=(running, c, acknowledged, stop))
                   for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert wait_for(lambda: len(acknowledged) >= KILL_AFTER, timeout=60)
        kill_group(running)  # SIGKILL, mid-run, children included
        stop.set()
        for thread in threads:
            thread.join(30)
    assert len(acknowledged) >= KILL_AFTER
    with sqlite3.connect(running.data_dir / "messages.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with start_server(variant, data_dir=running.data_dir) as again:
        stored = {m["text"] for m in json.loads(again.get("/messages?limit=500").body)["messages"]}
    assert set(acknowledged) <= stored
