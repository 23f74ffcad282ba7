"""The story of a demo's first desync: which item, which operation, what the server
answered, what it cost the user, as a short timeline.

A list of forty invariant lines says that something broke, not what a user lost. The
story follows one item: the first one whose loss (or dangling anchor) the checker
found, the push that removed it and the policy that made the push, the server's
answers that name it or its call, and the request of the user it belonged to.

:class:`Moments` listens to the runner's events with a clock the demo gives it (the
story is told after the run, from what was seen, never re-derived from the engine).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from accord.agent import AgentEvent, ContextEdited, ToolFinished, ToolStarted, Transcript
from accord.client import events as se
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol.error_codes import UNKNOWN_CALL
from accord.sim.store import ConversationStore, ItemRecord
from accord.verify.checker import Invariant, Violation
from accord.verify.log import CheckLog

MAX_LINES = 12
_CALL_ID = re.compile(r"\bcall_\w+")
_QUOTED_ID = re.compile(r"'([\w-]+)'")  # ids the server's messages quote
QUOTE = 70  # characters of a message quoted in a line


@dataclass(frozen=True, slots=True)
class Moment:
    """Something the demo saw, when, and the ids it names."""

    t: float
    who: str
    text: str
    ids: frozenset[str]
    push_id: str | None = None
    trouble: bool = False  # a server refusal or a request not carried out
    costly: bool = False  # a user's request lost: a tool's result refused or undelivered


@dataclass
class Moments:
    """The run's moments, in order, and whether trouble (the first sign of a desync the
    demo can see while it runs) has been seen."""

    clock: Callable[[], float]
    seen: list[Moment] = field(default_factory=list)
    first_trouble: Moment | None = None
    first_cost: Moment | None = None

    def add(self, event: AgentEvent) -> None:
        moment = _moment(self.clock(), event)
        if moment is None:
            return
        self.seen.append(moment)
        if moment.trouble and self.first_trouble is None:
            self.first_trouble = moment
        if moment.costly and self.first_cost is None:
            self.first_cost = moment


def _moment(t: float, event: AgentEvent) -> Moment | None:
    if isinstance(event, Transcript):
        return Moment(t, event.role, _quote(event.text), frozenset({event.item_id}))
    if isinstance(event, ToolStarted):
        return Moment(
            t, "tool", f"{event.name} started ({event.call_id})", frozenset({event.call_id})
        )
    if isinstance(event, ToolFinished):
        outcome = "returned" if event.ok else "failed"
        return Moment(t, "tool", f"{event.name} {outcome}", frozenset({event.call_id}))
    if isinstance(event, ContextEdited):
        report = event.report
        flight = (
            f" while {event.calls_in_flight} call(s) in flight" if event.calls_in_flight else ""
        )
        text = f"{event.policy} pushed {len(report.sent)} op(s){flight}"
        return Moment(t, "context", text, frozenset(report.sent), push_id=report.push_id)
    if isinstance(event, se.ServerErrorEvent) and not event.retried:
        ids: set[str] = {i for i in (event.event_id, event.item_id, event.call_id) if i}
        text = f"error {event.code}: {event.message}"
        ids |= set(_CALL_ID.findall(event.message)) | set(_QUOTED_ID.findall(event.message))
        costly = event.code == UNKNOWN_CALL
        return Moment(t, "server", text, frozenset(ids), trouble=True, costly=costly)
    if isinstance(event, se.OutputFailed):
        text = f"output of {event.call_id} not delivered ({event.code})"
        return Moment(t, "client", text, frozenset({event.call_id}), trouble=True, costly=True)
    return None


@dataclass(frozen=True)
class Story:
    title: str
    lines: tuple[str, ...]
    cost: str

    def render(self) -> list[str]:
        return [self.title, *(f"  {line}" for line in self.lines), f"cost: {self.cost}"]


def first_desync(
    violations: Sequence[Violation],
    moments: Sequence[Moment],
    store: ConversationStore,
    log: CheckLog,
) -> Story | None:
    """The story of the violation that happened first (by the push that caused it, else
    by the first moment naming its item)."""
    if not violations:
        return None
    records = _loss_records(store)
    pushes: dict[str | None, Moment] = {m.push_id: m for m in moments if m.push_id}

    def when(violation: Violation) -> float:
        cause = _cause(violation, records, log, pushes)
        if cause is not None:
            return cause.t
        named = [m.t for m in moments if violation.item_id and violation.item_id in m.ids]
        return min(named, default=math.inf)

    def rank(violation: Violation) -> tuple[float, int]:
        """First by time; at the same moment a lost call tells more than its lost
        result, which tells more than a lost message, then a dangling anchor, then the
        rest (operations left unresolved follow from those)."""
        rec = records.get(violation.item_id or "")
        if violation.invariant is Invariant.NO_LOST_ITEM:
            item = rec.item if rec is not None else None
            if isinstance(item, FunctionCall):
                return (when(violation), 0)
            return (when(violation), 1 if isinstance(item, FunctionCallOutput) else 2)
        if violation.invariant is Invariant.NO_DANGLING_ANCHOR:
            return (when(violation), 3)
        return (when(violation), 4)

    first = min(violations, key=rank)
    return _tell(first, records, moments, log, pushes)


def _loss_records(store: ConversationStore) -> dict[str, ItemRecord]:
    """Each item id's incarnation the story is about: the first one deleted, else the
    last (the naive strategy re-creates what it deleted under the same id, and the
    re-created incarnation knows nothing of the delete that lost the first)."""
    records: dict[str, ItemRecord] = {}
    for rec in store.history():
        kept = records.get(rec.item.id)
        if kept is None or kept.deleted_by is None:
            records[rec.item.id] = rec
    return records


def _cause(
    violation: Violation,
    records: dict[str, ItemRecord],
    log: CheckLog,
    pushes: dict[str | None, Moment],
) -> Moment | None:
    rec = records.get(violation.item_id or "")
    if rec is None or rec.deleted_by is None:
        return None
    op = log.ops.get(rec.deleted_by)
    return pushes.get(op.push_id) if op is not None else None


def _tell(
    violation: Violation,
    records: dict[str, ItemRecord],
    moments: Sequence[Moment],
    log: CheckLog,
    pushes: dict[str | None, Moment],
) -> Story:
    rec = records.get(violation.item_id or "")
    item = rec.item if rec is not None else None
    related = _related_ids(violation, item, log)
    cause = _cause(violation, records, log, pushes)
    lines: list[str] = []
    trigger = _request_of(item, moments)
    # Moments are in the order seen; the trigger and the cause are among them.
    shown = [m for m in moments if m is trigger or m is cause or m.ids & related]
    for moment in shown:
        lines.append(f"{moment.t:6.2f} s  {moment.who:>9}  {moment.text}")
        if moment is cause and rec is not None:
            lines.append(
                f"{'':8}  {'':>9}  -> delete {rec.item.id}: invariant {violation.invariant.value}"
                f" ({violation.invariant.name}): {violation.detail}"
            )
            lines.append(f"{'':8}  {'server':>9}  conversation.item.deleted {rec.item.id}")
    if not lines:
        lines.append(str(violation))
    return Story(
        _title(violation, item), tuple(lines[:MAX_LINES]), _cost(item, moments, related, trigger)
    )


def _related_ids(violation: Violation, item: Item | None, log: CheckLog) -> frozenset[str]:
    """The item, its call, and every client operation about it (a rewrite's re-create is
    refused under its own event id)."""
    ids = {violation.item_id} if violation.item_id else set()
    if isinstance(item, FunctionCall | FunctionCallOutput):
        ids.add(item.call_id)
    subject = violation.item_id
    if subject:
        ids |= {
            op.event_id
            for op in log.ops.values()
            if op.kind == "create" and subject in (op.item_id, op.replaces)
        }
    return frozenset(i for i in ids if i)


def _title(violation: Violation, item: Item | None) -> str:
    what = _describe(item) if item is not None else f"item {violation.item_id or '?'}"
    if violation.invariant is Invariant.NO_LOST_ITEM:
        return f"first desync: {what} was deleted from the server behind the writer's back"
    if violation.invariant is Invariant.NO_DANGLING_ANCHOR:
        return f"first desync: an item was anchored on {what}, which did not exist"
    return (
        f"first desync: {what}: invariant {violation.invariant.value} ({violation.invariant.name})"
    )


def _describe(item: Item) -> str:
    if isinstance(item, FunctionCall):
        return f"the call {item.name} ({item.call_id}, item {item.id})"
    if isinstance(item, FunctionCallOutput):
        return f"the output of {item.call_id} (item {item.id})"
    if isinstance(item, Message):
        return f"the {item.role} message {_quote(item.text)!r} ({item.id})"
    return f"item {item.id}"


def _request_of(item: Item | None, moments: Sequence[Moment]) -> Moment | None:
    """The user's line the lost item answers: the last user line before its call started
    (for a call), or the line itself (a user message)."""
    if not isinstance(item, FunctionCall | FunctionCallOutput):
        return None
    start = next((m for m in moments if item.call_id in m.ids and m.who == "tool"), None)
    if start is None:
        return None
    before = [m for m in moments if m.who == "user" and m.t <= start.t]
    return before[-1] if before else None


def _cost(
    item: Item | None, moments: Sequence[Moment], related: frozenset[str], trigger: Moment | None
) -> str:
    refused = [m for m in moments if m.trouble and m.ids & related]
    if isinstance(item, FunctionCall | FunctionCallOutput):
        asked = f"the user asked {trigger.text!r}; " if trigger is not None else ""
        if refused:
            return (
                f"{asked}the tool ran, but the server refused its result ({refused[0].text}), "
                "so the model never heard the answer and the request went unanswered"
            )
        if isinstance(item, FunctionCallOutput):
            return (
                f"{asked}the tool's result is gone from the model's context: the model no "
                "longer knows what the tool did, and may do it again or deny it was done"
            )
        return f"{asked}the call is gone from the model's context, with whatever it decided"
    if isinstance(item, Message):
        refusal = f"; the server refused to put them back ({refused[0].text})" if refused else ""
        return (
            f"the {item.role}'s words {_quote(item.text)!r} left the model's context although "
            f"no policy chose to remove them{refusal}; the model answers as if they were "
            "never said"
        )
    if refused:
        return f"the server refused what depended on it: {refused[0].text}"
    return "the client's copy and the server's conversation no longer agree"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE else flat[: QUOTE - 3] + "..."
