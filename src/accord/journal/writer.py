"""The journal writer: what changed since the last checkpoint, appended before it is sent.

The session calls :meth:`JournalWriter.checkpoint` after every step of its core (a
server frame handled, a local call, a tick) and before the frames that step produced go
out: the write-before-send rule. A crash before the write loses nothing the server has
(the frames were not sent); a crash after it but before the send leaves in the journal
an effect the server never saw, which the resume carries (the restore sends it once).

What is recorded is the engine's projected state, the same state a reconnect restores
from (:meth:`~accord.engine.engine.SyncEngine.drop_state`): items acknowledged by the
server and creates still on their way, with what a restore needs of each. Only the
difference from the last checkpoint is appended (an :class:`Entry` per new, changed or
moved item, a :class:`Removed` per item gone), and nothing is computed at all when the
engine's version and operation count have not moved (audio deltas, for instance, never
reach the engine).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from accord.engine.engine import SyncEngine
from accord.journal.records import Config, Entry, Opened, Record, Removed, ReplyOwed
from accord.journal.state import JournalState
from accord.journal.store import JournalStore


class JournalWriter:
    """Appends one session's changes under ``key``."""

    def __init__(self, store: JournalStore, key: str, state: JournalState | None = None) -> None:
        self.store = store
        self.key = key
        # What the journal holds so far, as a resume would read it.
        self._config: dict[str, Any] | None = None if state is None else state.config
        self._entries: dict[str, Entry] = {} if state is None else dict(state.entries)
        self._order: list[str] = [] if state is None else list(state.order)
        self._owed = False if state is None else state.reply_owed
        self._notes: list[Record] = []
        self._token: tuple[int, int] | None = None
        self.appends = 0  # store round trips, for the benchmark
        self.written = 0  # records appended
        self.elapsed = 0.0  # seconds spent in checkpoint, the store's appends included
        if state is None:
            self._notes.append(Opened(time.time()))

    def note(self, record: Record) -> None:
        """A record the engine's state does not show (a tool's start or finish), written
        with the next checkpoint."""
        self._notes.append(record)

    def checkpoint(self, engine: SyncEngine, config: dict[str, Any]) -> None:
        """Append what changed; raises :class:`~accord.errors.JournalUnavailable` when
        the store cannot take it (the caller must not send then)."""
        started = time.perf_counter()
        try:
            self._checkpoint(engine, config)
        finally:
            self.elapsed += time.perf_counter() - started

    def _checkpoint(self, engine: SyncEngine, config: dict[str, Any]) -> None:
        records = self._notes
        self._notes = []
        if config != self._config:
            self._config = copy.deepcopy(config)
            records.append(Config(self._config))
        token = (engine.ledger.version, engine.ledger.seq)
        if token != self._token:
            self._token = token
            records.extend(self._changes(engine))
            owed = _reply_owed(engine)
            if owed != self._owed:
                self._owed = owed
                records.append(ReplyOwed(owed))
        if not records:
            return
        self.store.append(self.key, records)
        self.appends += 1
        self.written += len(records)

    def _changes(self, engine: SyncEngine) -> list[Record]:
        """The records that take the journal from its last state to the engine's.

        O(n) per call with a small constant: an item whose object, place and restore
        facts are those last written is passed over without building a record."""
        projected = engine.ledger.projected(engine.mirror)
        present = {item.id for item in projected}
        out: list[Record] = []
        for gone in [i for i in self._order if i not in present]:
            out.append(Removed(gone))
            del self._entries[gone]
        order = [i for i in self._order if i in present]
        previous: str | None = None
        mirror, partial, facts = engine.mirror, engine.responses.partial, engine.reconnect.facts
        # Only assistant audio has restore facts besides ``partial`` (a transcript, a
        # length, where it was cut): other items skip building them.
        audio = engine.audio_seen.keys() | engine.heard.keys()
        for index, item in enumerate(projected):
            item_id = item.id
            known = self._entries.get(item_id)
            pending = item_id not in mirror
            placed = index < len(order) and order[index] == item_id
            if item_id in audio or engine.ledger.find_open("truncate", item_id) is not None:
                at = facts(item)
                cut = (at.partial, at.heard_ms, at.full_transcript, at.full_ms)
            else:
                cut = (partial(item_id), None, None, None)
            if (
                placed
                and known is not None
                and known.item is item
                and known.after == previous
                and known.pending == pending
                and (known.partial, known.heard_ms, known.full_transcript, known.full_ms) == cut
            ):
                previous = item_id
                continue
            entry = Entry(item, previous, pending, *cut)
            previous = item_id
            if known == entry and placed:
                self._entries[item_id] = entry  # an equal item under a new object
                continue
            if not placed:
                if known is not None:
                    order.remove(item_id)
                order.insert(index, item_id)
            out.append(entry)
            self._entries[item_id] = entry
        self._order = order
        return out


def _reply_owed(engine: SyncEngine) -> bool:
    """An in-band response asked for and not done, or running; or, during a resume's
    restore, the reply the journal said was owed (asked once the restore is in)."""
    if engine.reconnect.owed_reply or engine.responses.inband_busy():
        return True
    return any(
        op.kind == "response" and op.response is not None and not op.response.out_of_band
        for op in engine.ledger.open_ops()
    )
