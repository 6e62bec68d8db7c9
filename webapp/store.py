"""The guestbook's SQLite store: one connection per thread and per process, never shared.

WAL with synchronous=FULL: `add` returns only after the row is durably committed.
"""

import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL
)"""
BUSY_TIMEOUT_S = 5.0
DB_NAME = "messages.db"  # in the data dir, with SQLite's -wal and -shm beside it


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class MessageStore:
    """Messages in `DATA_DIR/messages.db`. Opening it creates the folder and the table."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._local = threading.local()
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self.connection().execute(SCHEMA)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection; a forked child opens its own instead of its parent's."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.pid, local.db = os.getpid(), self._open()
        return local.db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._opened.append((os.getpid(), db))
        return db

    def add(self, text: str) -> dict:
        """Store one message and return it; committed (autocommit) before returning."""
        created = utc_now_iso()
        cursor = self.connection().execute("INSERT INTO messages (text, created) VALUES (?, ?)", (text, created))
        return {"id": cursor.lastrowid, "text": text, "created": created}

    def latest(self, limit: int) -> list[dict]:
        rows = self.connection().execute(
            "SELECT id, text, created FROM messages ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [{"id": id_, "text": text, "created": created} for id_, text, created in rows]

    def get(self, message_id: int) -> dict | None:
        row = self.connection().execute(
            "SELECT id, text, created FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return None if row is None else {"id": row[0], "text": row[1], "created": row[2]}

    def close(self) -> None:
        """Close every connection this process opened (never a parent's, inherited by fork)."""
        with self._lock:
            mine = [db for pid, db in self._opened if pid == os.getpid()]
            self._opened = [entry for entry in self._opened if entry[0] != os.getpid()]
        for db in mine:
            db.close()
