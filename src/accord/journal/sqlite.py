"""The embedded journal store: one SQLite file, WAL mode, stdlib :mod:`sqlite3`.

One table of ``(key, seq, body)`` rows, appended in one transaction per call. WAL lets
a resuming process read while another writes, and with ``synchronous=NORMAL`` a
committed append survives the writing process being killed (the data is with the
operating system); ``synchronous="FULL"`` also survives a power cut, at one more
fsync per append.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from accord.errors import JournalUnavailable
from accord.journal.records import Record, decode, encode

BUSY_TIMEOUT_S = 5.0  # a writer waits this long for another process's transaction

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS journal ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS journal_key ON journal (key, seq)",
)


class SqliteStore:
    """A :class:`~accord.journal.store.JournalStore` in one SQLite file."""

    def __init__(
        self, path: str | Path, *, synchronous: str = "NORMAL", timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        self._lock = threading.Lock()  # one connection, used from any thread
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise JournalUnavailable(
                f"SQLite journal {self.path!r} cannot be opened: {exc}"
            ) from exc

    def append(self, key: str, records: Sequence[Record]) -> None:
        if not records:
            return
        rows = [(key, encode(record)) for record in records]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO journal (key, body) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise JournalUnavailable(f"SQLite journal {self.path!r}: {exc}") from exc

    def load(self, key: str) -> list[Record]:
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT body FROM journal WHERE key = ? ORDER BY seq", (key,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise JournalUnavailable(f"SQLite journal {self.path!r}: {exc}") from exc
        return [decode(body) for (body,) in rows]

    def delete(self, key: str) -> None:
        with self._lock:
            try:
                self._db.execute("DELETE FROM journal WHERE key = ?", (key,))
            except sqlite3.Error as exc:
                raise JournalUnavailable(f"SQLite journal {self.path!r}: {exc}") from exc

    def keys(self) -> list[str]:
        with self._lock:
            try:
                rows = self._db.execute("SELECT DISTINCT key FROM journal ORDER BY key").fetchall()
            except sqlite3.Error as exc:
                raise JournalUnavailable(f"SQLite journal {self.path!r}: {exc}") from exc
        return [key for (key,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
