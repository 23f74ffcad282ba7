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
from collections.abc import Sequence
from typing import Any

from accord.engine.engine import SyncEngine
from accord.items import Item
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
        # The projected items last written, in order (the same objects), and the ids whose
        # entry has a flag set (partial, or a restore fact): see _changes.
        self._items: Sequence[Item] = [self._entries[i].item for i in self._order]
        self._special: set[str] = {i for i, e in self._entries.items() if _flagged(e)}
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

        The projected items that are the very objects last written, in the same places
        (a common prefix, usually all but the conversation's tail), are checked cheaply:
        only whether they were acknowledged since, and, for the few that can have
        restore facts (items of a response still running, assistant audio, a truncate
        on its way, or a flag written before), those facts. From the first item that
        differs on, each item is compared whole and placed."""
        projected = engine.ledger.projected(engine.mirror)
        present = {item.id for item in projected}
        out: list[Record] = []
        for gone in [i for i in self._order if i not in present]:
            out.append(Removed(gone))
            del self._entries[gone]
            self._special.discard(gone)
        order = [i for i in self._order if i in present]
        same = 0
        for now, before in zip(projected, self._items, strict=False):
            if now is not before:
                break
            same += 1
        candidates = self._special | _may_have_facts(engine)
        mirror, entries = engine.mirror, self._entries
        for item in projected[:same]:  # the hot loop: a lookup or two per item
            item_id = item.id
            written = entries[item_id]
            if item_id in candidates or written.pending != (item_id not in mirror):
                changed = self._checked(engine, item, written, candidates)
                if changed is not None:
                    out.append(changed)
        previous = projected[same - 1].id if same else None
        for index in range(same, len(projected)):
            item = projected[index]
            item_id = item.id
            known = self._entries.get(item_id)
            placed = index < len(order) and order[index] == item_id
            entry = Entry(item, previous, item_id not in engine.mirror, *_cut(engine, item))
            previous = item_id
            if placed and known == entry:
                self._entries[item_id] = entry  # an equal item, maybe under a new object
                continue
            if not placed:
                if known is not None:
                    order.remove(item_id)
                order.insert(index, item_id)
            out.append(self._store(entry))
        self._order = order
        self._items = projected
        return out

    def _checked(
        self, engine: SyncEngine, item: Item, known: Entry, candidates: set[str]
    ) -> Entry | None:
        """The new entry of an item unchanged in object and place, None if its flags
        are as written."""
        pending = item.id not in engine.mirror
        cut = _cut(engine, item) if item.id in candidates else (False, None, None, None)
        if (
            known.pending == pending
            and (
                known.partial,
                known.heard_ms,
                known.full_transcript,
                known.full_ms,
            )
            == cut
        ):
            return None
        return self._store(Entry(item, known.after, pending, *cut))

    def _store(self, entry: Entry) -> Entry:
        item_id = entry.item.id
        self._entries[item_id] = entry
        if _flagged(entry):
            self._special.add(item_id)
        else:
            self._special.discard(item_id)
        return entry


Cut = tuple[bool, int | None, str | None, int | None]


def _cut(engine: SyncEngine, item: Item) -> Cut:
    """An item's partial flag and restore facts (:meth:`Reconnect.facts`)."""
    at = engine.reconnect.facts(item)
    return (at.partial, at.heard_ms, at.full_transcript, at.full_ms)


def _flagged(entry: Entry) -> bool:
    return entry.partial or any(
        v is not None for v in (entry.heard_ms, entry.full_transcript, entry.full_ms)
    )


def _may_have_facts(engine: SyncEngine) -> set[str]:
    """Every id whose partial flag or restore facts may be set: the items of responses
    not done, assistant audio the engine remembers, items with a truncate on its way."""
    ids = engine.audio_seen.keys() | engine.heard.keys()
    for info in engine.responses.by_id.values():
        if not info.done:
            ids.update(info.items)
    for op in engine.ledger.open_ops():
        if op.kind == "truncate" and op.item_id is not None:
            ids.add(op.item_id)
    return ids


def _reply_owed(engine: SyncEngine) -> bool:
    """An in-band response asked for and not done, or running; or, during a resume's
    restore, the reply the journal said was owed (asked once the restore is in)."""
    if engine.reconnect.owed_reply or engine.responses.inband_busy():
        return True
    return any(
        op.kind == "response" and op.response is not None and not op.response.out_of_band
        for op in engine.ledger.open_ops()
    )
