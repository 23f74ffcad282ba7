"""A session's journal opened for a new conversation or for a resume.

The session shell (:mod:`accord.session`) calls these two and nothing else of the
journal's reading side: :func:`start` for ``connect(..., journal=...)``, which refuses a
key that already holds a conversation (two sessions must not write one journal), and
:func:`resume`, which reads the key back and plans its restore.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from accord.engine.resume import ResumeInput
from accord.errors import JournalError
from accord.journal.state import plan_resume, replay
from accord.journal.store import JournalStore, open_journal
from accord.journal.writer import JournalWriter


@dataclass(frozen=True, slots=True)
class Resuming:
    """A journal read back: where to go on writing, what to restore, which config."""

    writer: JournalWriter
    plan: ResumeInput
    config: dict[str, Any]


def new_key() -> str:
    """A fresh journal key: 32 hex digits, unique across processes and machines."""
    return uuid.uuid4().hex


def start(journal: str | JournalStore, key: str | None) -> JournalWriter:
    store = open_journal(journal)
    key = key or new_key()
    if store.load(key):
        raise JournalError(
            f"journal key {key!r} already holds a conversation: resume it "
            "(RealtimeSession.resume) or delete it (store.delete) first"
        )
    return JournalWriter(store, key)


def resume(journal: str | JournalStore, key: str) -> Resuming:
    store = open_journal(journal)
    records = store.load(key)
    if not records:
        raise JournalError(f"journal key {key!r} holds nothing to resume")
    state = replay(records)
    return Resuming(JournalWriter(store, key, state), plan_resume(state), state.config)
