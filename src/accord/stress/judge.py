"""Judging one live session against the simulator's store, across a reconnect.

The demo's :class:`~accord.verify.audit.Audit` judges one connection. A stress session
may be dropped and restored, and a Realtime server cannot be resumed: the restored
conversation lives in a new simulator session with a new store. So the judgement here
has segments, as the pair harness's does (:class:`accord.verify.harness.Pair`), and the
same restore judge (:mod:`accord.verify.restore`):

- at the drop, the old store is final: the invariants that hold at every moment (no lost
  item, no dangling anchor, pairs) are checked on it with the old log, the engine's
  frozen projected state is kept, and a fresh log starts with the operations still open
  (the restore settles them) and the tools still running;
- when the engine reports the restore done, the new store must hold N(projected state at
  the drop) (invariant 7): the items the restore created, nothing more, nothing less;
- at quiet, at the end, every invariant runs on the last store and log, and both the
  client's mirror and the agent-side context (``session.chat_ctx``) are compared with it.

A session resumed from the journal in another worker (``--kill-every``) starts its judge
with the restore already pending: what it must rebuild is read from the journal itself
(:func:`resume_entries`, through a store of the judge's own), so a resume that leaves out
what the journal held is judged as a restore that left items out. At the end, the last
store's calls must each have exactly one output (:func:`calls_without_one_output`).

The checker needs the store's transition counter at each client decision, so the judge
lives in the process (and on the loop) of the simulator that serves the session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.client.core import SessionCore
from accord.engine import events as ev
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.journal import Record
from accord.journal.state import plan_resume, replay
from accord.sim.store import ConversationStore
from accord.verify.audit import Audit
from accord.verify.checker import (
    Invariant,
    Violation,
    check_no_lost_item,
    check_quiet,
    check_transition,
)
from accord.verify.restore import (
    DropEntry,
    PendingRestore,
    ReceivedAudio,
    carry_open,
    drop_entries,
    judge_restore,
    on_the_wire,
)

DROP_MARK = "(drop)"  # a key of the log's order: where the last drop stands

# Violations that name an item gone without a decision entitled to remove it.
_LOST_DETAILS = ("missing from the server", "created by the client, never on the server")


@dataclass
class Verdict:
    """What the judge found in one session."""

    violations: list[Violation] = field(default_factory=list)
    ops_sent: int = 0
    resolved: int = 0
    restores_judged: int = 0
    calls_without_one_output: int = 0

    @property
    def lost_items(self) -> set[str]:
        """Items the agent's context or the server had that vanished without a delete
        accord was entitled to send (invariant 1, a restore that left them out, or an
        item that should be on the server by every decision made and is not)."""
        lost: set[str] = set()
        for v in self.violations:
            if v.item_id is None:
                continue
            if v.invariant in (Invariant.NO_LOST_ITEM, Invariant.LOSSLESS_RECONNECT) or (
                v.invariant is Invariant.CONVERGENCE and v.detail in _LOST_DETAILS
            ):
                lost.add(v.item_id)
        return lost


class SessionJudge:
    """Follows one session core and the simulator stores that serve it, in turn."""

    def __init__(
        self,
        core: SessionCore,
        store_of: Callable[[], ConversationStore],
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        """``store_of`` names the store of the connection in use; ``on_drop`` tells its
        owner that the next connection gets a new one (until the new simulator session
        is known, ``store_of`` must answer with an empty store, not the old one)."""
        self.core = core
        self._store_of = store_of
        self._on_drop = on_drop
        self.restores_judged = 0
        self.audit = Audit(store_of)
        self.audit.attach(core)
        self.received = ReceivedAudio()  # each cut turn's full length, for the restore
        self.received.attach(core)
        self.found: list[Violation] = []
        self._pending: PendingRestore | None = None
        self._drop_mark = 0
        self._segment_store: ConversationStore | None = None
        core.observers.append(self._observe)
        previous = core._on_effect  # the audit's wrapper: chain after it, as it does

        def on_effect(effect: ev.Effect) -> None:
            previous(effect)
            if isinstance(effect, ev.Send):
                self._restore_decided_at_drop(effect)
            elif isinstance(effect, (ev.Reconnected, ev.Resumed)):
                self._judge_restore(effect.lost)

        core._on_effect = on_effect

    # -- the drop and the restore -------------------------------------------------------

    def expect_resume(self, entries: Sequence[DropEntry]) -> None:
        """The session is a resume: the journal's projected state at the crash is what
        its restore (reported by ``Resumed``) must rebuild. Call before it connects."""
        self._pending = PendingRestore(tuple(entries))
        self.audit.log.order[DROP_MARK] = self._drop_mark = len(self.audit.log.order)

    def _observe(self, what: str, details: dict[str, Any]) -> None:
        if what == "connection_lost":
            self._dropped()

    def _dropped(self) -> None:
        store, log = self._store_of(), self.audit.log
        if self._segment_store is store:
            return  # dropped again before the new server was reached: same segment
        self._segment_store = store
        self.found.extend(check_no_lost_item(store, log) + check_transition(store))
        if self._pending is None:  # a drop during a restore keeps the first projected state
            entries = drop_entries(self.core.engine, store, log, self.received)
            if entries is None:  # a strategy that keeps no projected state: its mirror
                entries = [DropEntry(item) for item in self.core.engine.mirror_items()]
            self._pending = PendingRestore(tuple(entries))
        self.audit.log = carry_open(log)
        # Every decision from here on is later than the state the restore rebuilds.
        self.audit.log.order[DROP_MARK] = self._drop_mark = len(self.audit.log.order)
        self._on_drop()

    def _restore_decided_at_drop(self, effect: ev.Send) -> None:
        """A restore create re-creates what the projected state held at the drop, so it
        stands at the drop in the order of decisions, not where it was sent: a push made
        while the connection was down (its deletes held until the restore is in) then
        removes it, as it meant to, instead of looking older than the item it removed."""
        op = effect.op
        if (
            self._pending is not None
            and isinstance(op, ev.CreateItem)
            and effect.push_id is None
            and op.item.id in self._pending.drop_ids
        ):
            self.audit.log.order[op.event_id] = self._drop_mark

    def _judge_restore(self, reported_lost: Sequence[str]) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        self.restores_judged += 1
        store = self._store_of()
        self.found.extend(
            judge_restore(store, self.audit.log, pending, reported_lost, over_the_wire=True)
        )

    # -- the end ------------------------------------------------------------------------

    def verdict(self) -> Verdict:
        """Every invariant at the end (call at quiet), with what was found on the way."""
        if self._pending is not None:  # a restore the client never reported done
            self._judge_restore(())
        store = self._store_of()
        engine = self.core.engine
        found = list(self.found)
        found.extend(check_quiet(store, self.audit.log, engine.mirror_items()))
        found.extend(compare_context(engine.context().items, store.items()))
        return Verdict(
            _dedupe(found),
            self.audit.ops_sent,
            self.audit.resolved,
            self.restores_judged,
            calls_without_one_output(store),
        )


def resume_entries(records: list[Record]) -> list[DropEntry]:
    """What the resume of a journal must rebuild: its projected state at the crash, with
    the calls reconciled as docs/journal.md says (a call whose tool was running and may
    not run twice gets its "interrupted" output; one whose tool runs again gets none yet).
    A truncated assistant turn carries its full transcript and where it was cut."""
    entries: list[DropEntry] = []
    for e in plan_resume(replay(records)).entries:
        item = e.item
        if isinstance(item, Message) and e.heard_ms is not None and e.full_transcript:
            item = dataclasses.replace(item, content=e.full_transcript)
        entries.append(DropEntry(item, e.partial, e.heard_ms, e.full_ms))
    return entries


def answered_inputs(entries: Sequence[DropEntry]) -> frozenset[str]:
    """The user turns and tool outputs a restored conversation shows answered: those
    before its last complete assistant message. A reply on the new server that sees
    nothing else answers them a second time (a duplicate reply across the resume)."""
    answered: set[str] = set()
    seen: set[str] = set()
    for entry in entries:
        item = entry.item
        if isinstance(item, FunctionCallOutput) or (
            isinstance(item, Message) and item.role == "user"
        ):
            seen.add(item.id)
        elif isinstance(item, Message) and item.role == "assistant" and not entry.partial:
            answered |= seen
    return frozenset(answered)


def calls_without_one_output(store: ConversationStore) -> int:
    """Calls of the server session without exactly one output in its final conversation:
    a call id with no output, or with two (a tool run again beside its restored output).
    A call trimmed away goes with its output, so it is in neither; a call whose call or
    output the server's own truncation evicted is not the client's to answer for. (The
    history is not read: a redaction replaces an output by a new one of the same call.)"""
    evicted = {
        rec.item.call_id
        for rec in store.evicted
        if isinstance(rec.item, (FunctionCall, FunctionCallOutput))
    }
    outputs: dict[str, int] = {}
    for item in store.items():
        if isinstance(item, FunctionCall):
            outputs.setdefault(item.call_id, 0)
        elif isinstance(item, FunctionCallOutput):
            outputs[item.call_id] = outputs.get(item.call_id, 0) + 1
    return sum(count != 1 for call, count in outputs.items() if call not in evicted)


def compare_context(context: Sequence[Item], server: Sequence[Item]) -> list[Violation]:
    """The agent-side context against the server at quiet: same items, same order, same
    content (``interrupted`` has no wire spelling, so it is not compared)."""
    mine = [on_the_wire(i) for i in context]
    theirs = [on_the_wire(i) for i in server]
    if mine == theirs:
        return []
    ids, server_ids = [i.id for i in mine], [i.id for i in theirs]
    found = [
        Violation(Invariant.CONVERGENCE, i, "in the agent's context, not on the server")
        for i in sorted(set(ids) - set(server_ids))
    ]
    found += [
        Violation(Invariant.CONVERGENCE, i, "on the server, not in the agent's context")
        for i in sorted(set(server_ids) - set(ids))
    ]
    if not found:
        detail = "agent's context order differs from the server"
        if ids == server_ids:
            diff = next(a.id for a, b in zip(mine, theirs, strict=True) if a != b)
            detail = f"agent's context content differs from the server at {diff!r}"
        found.append(Violation(Invariant.CONVERGENCE, None, detail))
    return found


def _dedupe(found: list[Violation]) -> list[Violation]:
    return list(dict.fromkeys(found))
