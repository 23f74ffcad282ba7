"""Resuming a journaled session in a new engine: a reconnect's restore, seeded first.

A resume (docs/journal.md) is a reconnect whose drop happened in another process: the
projected state at the drop comes from the journal instead of this engine's memory.
So the restore is the same (:mod:`accord.engine.reconnect`, invariant 7); what a fresh
engine lacks, and is seeded with here, is what it would have remembered of the calls:

- every restored call is known as announced, except those whose tools run again,
  which the restore's acknowledgement announces (:class:`FunctionCallReady`) once;
- calls run again belong to one finished response, so that once all their outputs are
  on the server exactly one follow-up is asked (:mod:`accord.engine.followups`);
- with nothing to run again, restored tool outputs are the tools' own, so a
  conversation restored ending in outputs gets its one reply when the restore is
  acknowledged (as after a reconnect);
- a reply the journal says was owed (asked for, not done) is asked once, unless the
  restored conversation ends with the assistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from accord.engine import events as ev
from accord.engine.followups import FollowUps
from accord.engine.reconnect import Reconnect
from accord.engine.responses import ResponseInfo, Responses
from accord.engine.restore import AtDrop
from accord.items import FunctionCall, FunctionCallOutput

RESUMED_RESPONSE = "resumed"  # the response id the calls run again are filed under


@dataclass(frozen=True, slots=True)
class ResumeInput:
    """What a journal says to restore (``entries``, in order, the interrupted calls'
    outputs among them) and which calls' tools run again (``rerun``, call ids)."""

    entries: tuple[AtDrop, ...]
    rerun: tuple[str, ...] = ()
    interrupted: tuple[str, ...] = ()
    reply: bool = False  # a reply was owed: ask it, unless the assistant has the last word


class Resumable(Protocol):
    """The parts of the engine a resume seeds."""

    responses: Responses
    followups: FollowUps
    reconnect: Reconnect
    calls_ready: set[str]


def seed(eng: Resumable, given: ResumeInput) -> None:
    """Make a fresh engine remember what the journal says, before its restore."""
    rerun = set(given.rerun)
    calls = [e.item for e in given.entries if isinstance(e.item, FunctionCall)]
    eng.calls_ready.update(c.call_id for c in calls if c.call_id not in rerun)
    if rerun:
        info = ResponseInfo(RESUMED_RESPONSE, out_of_band=False, started_at=0)
        info.done, info.status = True, "completed"
        for call in calls:
            if call.call_id in rerun:
                info.items.append(call.id)
                info.calls.append(call.call_id)
                eng.responses.item_owner[call.id] = RESUMED_RESPONSE
        eng.responses.by_id[RESUMED_RESPONSE] = info
    else:
        for entry in given.entries:
            if isinstance(entry.item, FunctionCallOutput) and not entry.partial:
                eng.followups.outputs[entry.item.call_id] = entry.item.id
    eng.reconnect.owed_reply = given.reply
    eng.reconnect.at_drop = list(given.entries)
    eng.reconnect.resuming = ev.Resumed(0, (), given.rerun, given.interrupted)
