"""Durable sessions: a journal of what a session needs to be rebuilt (docs/journal.md).

``RealtimeSession.connect(..., journal="sqlite:///sessions.db")`` appends, before each
effect is sent, what changed: the conversation as the engine projects it, the tool
calls' state and the session configuration. ``RealtimeSession.resume(...)`` reads it
back in another process (or on another machine, with Redis) and restores it into a new
server session through the same restore a reconnect uses.
"""

from accord.errors import JournalCorrupt, JournalError, JournalUnavailable, JournalUrlError
from accord.journal.records import (
    CallFinished,
    CallStarted,
    Config,
    Entry,
    Opened,
    Record,
    Removed,
)
from accord.journal.store import JournalStore, StoreWrapper, open_journal

__all__ = [
    "CallFinished",
    "CallStarted",
    "Config",
    "Entry",
    "JournalCorrupt",
    "JournalError",
    "JournalStore",
    "JournalUnavailable",
    "JournalUrlError",
    "Opened",
    "Record",
    "Removed",
    "StoreWrapper",
    "open_journal",
]
