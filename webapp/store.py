"""The guestbook's SQLite store: a pool of connections per process, each used by one thread at a time.

WAL with synchronous=FULL: `add` returns only after the row is durably committed.
"""

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, cast

SCHEMA = """CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL
)"""
BUSY_TIMEOUT_S = 5.0
IDLE_MAX = 16  # connections kept open for the next operations; more at once are opened and closed again
CACHE_KIB = 256  # each connection's page cache (SQLite's default, 2 MiB, fills as the table grows: a server's
# memory would creep up for as long as messages are added); the guestbook reads the newest pages only
DB_NAME = "messages.db"  # in the data dir, with SQLite's -wal and -shm beside it


class Message(TypedDict):
    """One stored message, as the routes answer it in JSON and the page renders it."""

    id: int
    text: str
    created: str  # UTC, ISO 8601 to the second (utc_now_iso)


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MessageStore:
    """Messages in `DATA_DIR/messages.db`. Opening it creates the folder and the table.

    Connections are pooled: a thread takes one for each operation and gives it back, so a server that starts a
    thread per client does not open (and keep) a connection per client. At most IDLE_MAX wait in the pool; a
    forked child never uses its parent's."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: list[sqlite3.Connection] = []
        self._inherited: list[sqlite3.Connection] = []  # a parent's, kept unused: closing them here is not ours to do
        with self.connection() as db:
            db.execute(SCHEMA)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process for the length of one operation."""
        db = self._take()
        try:
            yield db
        finally:
            self._give(db)

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: what the pool holds is its parent's
                self._inherited, self._idle, self._pid = self._inherited + self._idle, [], os.getpid()
            if self._idle:
                return self._idle.pop()
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return db

    def _give(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < IDLE_MAX:
                self._idle.append(db)
                return
        db.close()

    def add(self, text: str) -> Message:
        """Store one message and return it; committed (autocommit) before returning."""
        created = utc_now_iso()
        with self.connection() as db:
            cursor = db.execute("INSERT INTO messages (text, created) VALUES (?, ?)", (text, created))
        row_id = cast(int, cursor.lastrowid)  # an INSERT's: never None after it
        return {"id": row_id, "text": text, "created": created}

    def latest(self, limit: int) -> list[Message]:
        with self.connection() as db:
            rows = db.execute("SELECT id, text, created FROM messages ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"id": id_, "text": text, "created": created} for id_, text, created in rows]

    def get(self, message_id: int) -> Message | None:
        with self.connection() as db:
            row = db.execute("SELECT id, text, created FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else {"id": row[0], "text": row[1], "created": row[2]}

    def close(self) -> None:
        """Close the connections this process has in its pool (never a parent's, inherited by fork)."""
        with self._lock:
            mine = self._idle if self._pid == os.getpid() else []
            self._idle = []
        for db in mine:
            db.close()
