"""A journal read back, and what a resume does with it: pure functions, no store, no I/O.

:func:`replay` folds the records into a :class:`JournalState` (the last configuration,
the projected conversation in order, each call's state). :func:`plan_resume` reconciles
the calls with what can be known after a crash:

- an output produced (its entry is in the journal, acknowledged or not) is restored
  with the conversation, so it reaches the new server exactly once;
- a call whose tool never started (no :class:`CallStarted`) runs now: it never ran;
- a call whose tool was running (started, no output) runs again when the tool was
  declared idempotent, else it is answered with :data:`INTERRUPTED_OUTPUT`, so the
  model can tell the user; either way each call ends with exactly one output;
- a reply that was owed (asked for, not done) is asked again once the restore is
  acknowledged, when the conversation does not end with the assistant; with calls run
  again, their one follow-up is that reply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from accord.engine.restore import AtDrop
from accord.engine.resume import ResumeInput
from accord.items import FunctionCall, FunctionCallOutput
from accord.journal.records import (
    CallFinished,
    CallStarted,
    Config,
    Entry,
    Opened,
    Record,
    Removed,
    ReplyOwed,
)

INTERRUPTED_OUTPUT = (
    '{"error": "interrupted", "message": "the tool was running when the agent stopped and '
    "was not run again: it may or may not have taken effect. Tell the user and ask before "
    'trying again."}'
)


@dataclass(frozen=True, slots=True)
class CallState:
    started: bool = False
    idempotent: bool = False
    finished: bool = False


@dataclass
class JournalState:
    """What the records of one key say, folded in order."""

    opened: Opened | None = None
    config: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    calls: dict[str, CallState] = field(default_factory=dict)
    reply_owed: bool = False
    records: int = 0

    def ordered(self) -> list[Entry]:
        return [self.entries[item_id] for item_id in self.order]

    def apply(self, record: Record) -> None:
        """One record: later records about the same thing supersede earlier ones."""
        self.records += 1
        if isinstance(record, Opened):
            self.opened = record
        elif isinstance(record, Config):
            self.config = dict(record.session)
        elif isinstance(record, Entry):
            self.put(record)
        elif isinstance(record, Removed):
            if self.entries.pop(record.item_id, None) is not None:
                self.order.remove(record.item_id)
        elif isinstance(record, CallStarted):
            self.calls[record.call_id] = CallState(True, record.idempotent)
        elif isinstance(record, ReplyOwed):
            self.reply_owed = record.owed
        elif isinstance(record, CallFinished):
            was = self.calls.get(record.call_id, CallState())
            self.calls[record.call_id] = CallState(was.started, was.idempotent, True)

    def put(self, entry: Entry) -> None:
        """``entry`` in its place: right after ``entry.after`` (first when None, or when
        ``after`` is unknown)."""
        item_id = entry.item.id
        if item_id in self.entries:
            self.order.remove(item_id)
        self.entries[item_id] = entry
        at = 0
        if entry.after is not None and entry.after in self.entries:
            at = self.order.index(entry.after) + 1
        self.order.insert(at, item_id)


def replay(records: list[Record]) -> JournalState:
    state = JournalState()
    for record in records:
        state.apply(record)
    return state


def plan_resume(state: JournalState) -> ResumeInput:
    """The restore a resume runs, with the calls reconciled (the module's rules)."""
    entries: list[AtDrop] = []
    answered = {
        e.item.call_id
        for e in state.entries.values()
        if isinstance(e.item, FunctionCallOutput) and not e.partial
    }
    rerun: list[str] = []
    interrupted: list[str] = []
    for entry in state.ordered():
        entries.append(
            AtDrop(
                entry.item,
                entry.partial,
                entry.heard_ms,
                entry.full_transcript,
                entry.full_ms,
            )
        )
        call = entry.item
        if not isinstance(call, FunctionCall) or entry.partial or call.call_id in answered:
            continue
        known = state.calls.get(call.call_id, CallState())
        if known.started and not known.idempotent:
            interrupted.append(call.call_id)
            answer = interrupted_id(call.call_id)
            entries.append(AtDrop(FunctionCallOutput(answer, call.call_id, INTERRUPTED_OUTPUT)))
        else:
            rerun.append(call.call_id)
    # A reply that was owed is asked again, unless calls run again: their follow-up is it.
    reply = state.reply_owed and not rerun
    return ResumeInput(tuple(entries), tuple(rerun), tuple(interrupted), reply)


def interrupted_id(call_id: str) -> str:
    """The id of the interrupted output of ``call_id``: the same on every resume of
    the same journal, and wire-safe (at most 32 characters)."""
    return "intr_" + hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:24]
