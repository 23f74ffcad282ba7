"""The journal's store: one small interface, two implementations, opened from a URL.

A store keeps, under each key (one session), an ordered list of records and nothing
else: no query, no update in place. That is all a journal needs (append before an
effect is sent, read back whole on resume), and it is what both an embedded database
and a networked one do well. ``open_journal`` takes the SQLAlchemy URL convention:

- ``sqlite:///relative.db`` (relative to the working directory),
  ``sqlite:////abs/path.db``, ``sqlite://`` (in memory, this process only): the
  embedded default, stdlib :mod:`sqlite3` in WAL mode (:mod:`accord.journal.sqlite`);
- ``redis://host:port/0`` (``rediss://`` for TLS): workers on several machines share
  one Redis (:mod:`accord.journal.redis_store`; the ``accord[redis]`` extra).

A bad URL raises :class:`~accord.errors.JournalUrlError`; a store that cannot be
reached, opened or written raises :class:`~accord.errors.JournalUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from accord.errors import JournalUrlError
from accord.journal.records import Record
from accord.journal.urls import redact_url, sqlite_path


@runtime_checkable
class JournalStore(Protocol):
    """Append-only lists of records by key."""

    def append(self, key: str, records: Sequence[Record]) -> None:
        """Add ``records`` at the end of ``key``'s list, all or none, durably enough to
        survive the process being killed once this returns."""
        ...

    def load(self, key: str) -> list[Record]:
        """Every record of ``key`` in the order appended (empty for an unknown key)."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (a session that will never be resumed)."""
        ...

    def keys(self) -> list[str]:
        """Every key that has records."""
        ...

    def close(self) -> None:
        """Release the connection; the records stay."""
        ...


class StoreWrapper:
    """A store that passes every call to ``inner``: a subclass changes what it must (a
    test's store that kills its process after an append, a benchmark's that times
    them) and inherits the rest."""

    def __init__(self, inner: JournalStore) -> None:
        self.inner = inner

    def append(self, key: str, records: Sequence[Record]) -> None:
        self.inner.append(key, records)

    def load(self, key: str) -> list[Record]:
        return self.inner.load(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self) -> list[str]:
        return self.inner.keys()

    def close(self) -> None:
        self.inner.close()


def open_journal(url: str | JournalStore) -> JournalStore:
    """The store a journal URL names (a store passes through as it is)."""
    if not isinstance(url, str):
        return url
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from accord.journal.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url))
    if scheme in ("redis", "rediss"):
        from accord.journal.redis_store import RedisStore

        return RedisStore.from_url(url)
    raise JournalUrlError(
        f"journal URL {redact_url(url)!r}: use sqlite:///relative.db, "
        "sqlite:////abs/path.db or redis://host:port/0"
    )
