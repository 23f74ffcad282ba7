"""The invariants of docs/architecture.md as functions over the store and the decision log.

The checker is the judge of every test, the demo, the stress run and the explorer. It
reads the simulator's :class:`~accord.sim.store.ConversationStore` (ground truth, with
provenance) and a :class:`~accord.verify.log.CheckLog` (what each operation was for),
and returns :class:`Violation` values naming the invariant broken; it never raises on a
broken invariant, so a caller can assert exactly which one a scenario breaks.

Invariants 2 (anchors) and 4 (pairs) hold on every store transition; the others are
checked at quiet (nothing in transit, no response, no pending op, no running tool).
It shares no code with the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from accord.items import FunctionCall, FunctionCallOutput, Item, Message, same_content
from accord.protocol import error_codes
from accord.sim.store import ConversationStore, CreateAttempt, ItemRecord
from accord.verify.log import CheckLog, DeleteReason, OpRecord, PushRecord


class Invariant(IntEnum):
    NO_LOST_ITEM = 1
    NO_DANGLING_ANCHOR = 2
    CONVERGENCE = 3
    PAIRS = 4
    RESOLVES_ONCE = 5
    IDEMPOTENCE = 6
    LOSSLESS_RECONNECT = 7


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: Invariant
    item_id: str | None
    detail: str

    def __str__(self) -> str:
        where = f" [{self.item_id}]" if self.item_id else ""
        return f"invariant {self.invariant.value} ({self.invariant.name}){where}: {self.detail}"


def _ids(items: Iterable[Item] | None) -> set[str]:
    return set() if items is None else {item.id for item in items}


def _by_id(items: Iterable[Item] | None) -> dict[str, Item]:
    return {} if items is None else {item.id: item for item in items}


# -- invariant 1: no lost item ---------------------------------------------------------


def check_no_lost_item(store: ConversationStore, log: CheckLog) -> list[Violation]:
    """Every delete traces to a decision about an item its maker had observed, and the
    item was not in flight (response running, transcript pending, tool running)."""
    found: list[Violation] = []
    for rec in store.history():
        if rec.alive:
            continue
        if rec.evicted_at is not None and rec.deleted_by is None:
            continue  # the server's truncation dropped it (session.truncation), no client
        op = log.ops.get(rec.deleted_by) if rec.deleted_by else None
        if op is None or op.kind != "delete" or op.item_id != rec.item.id:
            found.append(_lost(rec, "deleted by an operation with no recorded decision"))
            continue
        if rec.deleted_in_flight:
            found.append(_lost(rec, "deleted while in flight on the server"))
            continue
        if _tool_running(log, rec.item, rec.deleted_at or 0):
            found.append(_lost(rec, "deleted while its tool was running"))
            continue
        problem = _unjustified(store, log, op, rec)
        if problem:
            found.append(_lost(rec, problem))
    return found


def _lost(rec: ItemRecord, why: str) -> Violation:
    return Violation(Invariant.NO_LOST_ITEM, rec.item.id, why)


def _lineage(log: CheckLog, item_id: str) -> set[str]:
    """``item_id`` and every id it replaced through rewrites and moves."""
    replaced = {
        op.item_id: op.replaces
        for op in log.ops.values()
        if op.kind == "create" and op.item_id and op.replaces
    }
    names = {item_id}
    current: str | None = item_id
    while current in replaced and replaced[current] not in names:
        current = replaced[current]
        if current is not None:
            names.add(current)
    return names


def _tool_running(log: CheckLog, item: Item, at: int) -> bool:
    if not isinstance(item, FunctionCall):
        return False
    running = False
    for report in log.tool_reports:
        if report.call_id == item.call_id and report.at_transition <= at:
            running = report.event == "started"
    return running


def _unjustified(store: ConversationStore, log: CheckLog, op: OpRecord, rec: ItemRecord) -> str:
    """Why ``op`` did not justify deleting ``rec`` (empty when it did)."""
    item_id = rec.item.id
    reason = op.reason
    push = log.pushes.get(op.push_id) if op.push_id else None
    if reason is None:
        return "delete recorded without a reason"
    with_push = (
        DeleteReason.PUSH,
        DeleteReason.REWRITE,
        DeleteReason.MOVE,
        DeleteReason.PAIR_CASCADE,
    )
    if reason in with_push and (push is None or push.base is None):
        return f"{reason.value} delete without a push that carries a base"
    if reason is DeleteReason.PUSH:
        assert push is not None
        names = _lineage(log, item_id)  # a rewrite's new id answers for the old one
        if not names & _ids(push.base):
            return "pushed away by a writer whose base never held it"
        if names & _ids(push.desired):
            return "deleted although the push kept it"
        return ""
    if reason is DeleteReason.REWRITE:
        assert push is not None
        names = _lineage(log, item_id)  # an earlier rewrite's id answers for the old one
        base, desired = _by_id(push.base), _by_id(push.desired)
        before = next((base[n] for n in names if n in base), None)
        after = next((desired[n] for n in names if n in desired), None)
        if before is None:
            return "rewritten by a writer whose base never held it"
        if after is None or same_content(after, before):
            return "rewrite delete for an item the writer did not change"
        return ""
    if reason is DeleteReason.MOVE:
        assert push is not None
        if item_id not in _ids(push.base) or item_id not in _ids(push.desired):
            return "moved by a writer whose base or desired did not hold it"
        return ""
    if reason is DeleteReason.PAIR_CASCADE:
        assert push is not None
        return _cascade_problem(store, push, op, rec)
    if reason is DeleteReason.REPLACE:
        if push is None or not push.explicit_replace:
            return "replace delete without an explicit replace push"
        return "" if item_id not in _ids(push.desired) else "replace deleted a kept item"
    if reason is DeleteReason.INTERRUPTION:
        item = rec.item
        if not (isinstance(item, Message) and item.role == "assistant"):
            return "interruption deleted something other than an assistant message"
        return "" if op.played_ms == 0 else "interruption deleted an item that was played"
    # ABANDON
    if not isinstance(rec.item, FunctionCall):
        return "abandon deleted something other than a function call"
    started = any(r.call_id == rec.item.call_id and r.event == "started" for r in log.tool_reports)
    return "abandoned a call whose tool had started" if started else ""


def _cascade_problem(
    store: ConversationStore, push: PushRecord, op: OpRecord, rec: ItemRecord
) -> str:
    partner_id = op.partner_of
    if partner_id is None:
        return "pair cascade without the removed partner"
    if partner_id not in _ids(push.base) or partner_id in _ids(push.desired):
        return f"pair cascade from {partner_id!r}, which the push did not remove"
    partner_rec = store.record(partner_id)
    partner = partner_rec.item if partner_rec else _by_id(push.base).get(partner_id)
    item = rec.item
    paired = (
        isinstance(item, FunctionCall | FunctionCallOutput)
        and isinstance(partner, FunctionCall | FunctionCallOutput)
        and type(item) is not type(partner)
        and item.call_id == partner.call_id
    )
    return "" if paired else f"{partner_id!r} is not this item's call or output"


# -- invariant 2: no dangling anchor ---------------------------------------------------


def check_anchors(
    store: ConversationStore, since: int = 0, log: CheckLog | None = None
) -> list[Violation]:
    """Every create names an anchor that existed when the store processed it, unless
    another writer deleted the anchor after this client sent the create (no client can
    see that coming: it must re-anchor the refused create, which the rest judges).

    ``since`` skips the first create attempts (for a check on every transition).
    """
    return [
        Violation(
            Invariant.NO_DANGLING_ANCHOR,
            attempt.item_id,
            f"create {attempt.event_id!r} anchored on {attempt.previous_item_id!r}, "
            "which did not exist",
        )
        for attempt in store.creates[since:]
        if not attempt.anchor_existed and not _anchor_taken_by_another(store, log, attempt)
    ]


def _anchor_taken_by_another(
    store: ConversationStore, log: CheckLog | None, attempt: CreateAttempt
) -> bool:
    if log is None or attempt.previous_item_id is None:
        return False
    anchor = store.record(attempt.previous_item_id)
    create = log.ops.get(attempt.event_id or "")
    if anchor is None or anchor.deleted_by is None or create is None:
        return False
    delete = log.ops.get(anchor.deleted_by)
    return (
        delete is not None
        and delete.writer != "client"
        and create.at_transition <= (anchor.deleted_at or 0)
    )


# -- invariant 4: pairs ----------------------------------------------------------------


def check_pairs(store: ConversationStore) -> list[Violation]:
    """Every output on the server has its call before it."""
    calls_seen: set[str] = set()
    found: list[Violation] = []
    for item in store.items():
        if isinstance(item, FunctionCall):
            calls_seen.add(item.call_id)
        elif isinstance(item, FunctionCallOutput) and item.call_id not in calls_seen:
            found.append(
                Violation(
                    Invariant.PAIRS, item.id, f"output for {item.call_id!r} has no call before it"
                )
            )
    return found


# -- invariant 3: convergence ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Removals:
    """Removal decisions, by position in the client's own order of decisions
    (:meth:`CheckLog.decided_at`), which tells a re-creation after a removal from an
    item removed after it was planned.

    ``dropped``: a writer left the item out of a push whose base held it (or its pair
    went); this also removes what a rewrite made of it. ``exact``: decisions about one
    incarnation only (the old half of a rewrite or move, a replace, an interruption, an
    abandoned call).
    """

    dropped: dict[str, int]
    exact: dict[str, int]
    readded: dict[str, int]  # a writer that had seen it gone put it back (a retraction)

    def removed_at(self, log: CheckLog, item_id: str) -> int | None:
        marks = [self.dropped[n] for n in _lineage(log, item_id) if n in self.dropped]
        if item_id in self.exact:
            marks.append(self.exact[item_id])
        removed = max(marks, default=None)
        if removed is not None and self.readded.get(item_id, -1) > removed:
            return None  # the removal was taken back before it reached the server
        return removed


def intended_removals(store: ConversationStore, log: CheckLog) -> Removals:
    """Every removal some decision intended, with when it was decided."""
    dropped: dict[str, int] = {}
    exact: dict[str, int] = {}
    readded: dict[str, int] = {}

    def note(table: dict[str, int], item_id: str, at: int) -> None:
        table[item_id] = max(at, table.get(item_id, -1))

    call_items: dict[str, list[str]] = defaultdict(list)
    for rec in store.history():
        if isinstance(rec.item, FunctionCall | FunctionCallOutput):
            call_items[rec.item.call_id].append(rec.item.id)
    for push in log.pushes.values():
        if push.base is None:
            continue
        at = log.decided_at(push.push_id)
        desired = _by_id(push.desired)
        base_ids = {item.id for item in push.base}
        for item_id in desired:
            if item_id not in base_ids:
                note(readded, item_id, at)
        for item in push.base:
            if item.id not in desired:
                note(dropped, item.id, at)
                if isinstance(item, FunctionCall | FunctionCallOutput):
                    for partner in call_items[item.call_id]:
                        note(dropped, partner, at)
            elif not same_content(desired[item.id], item):
                note(exact, item.id, at)  # rewritten: this incarnation of the id goes
    one_incarnation = (
        DeleteReason.REWRITE,  # the writer changed it: this incarnation goes
        DeleteReason.REPLACE,
        DeleteReason.MOVE,
        DeleteReason.INTERRUPTION,
        DeleteReason.ABANDON,
    )
    for op in log.ops.values():
        if op.kind == "delete" and op.item_id and op.reason in one_incarnation:
            note(exact, op.item_id, log.decided_at(op.push_id or op.event_id))
    return Removals(dropped, exact, readded)


def check_convergence(
    store: ConversationStore, log: CheckLog, mirror: Sequence[Item] | None = None
) -> list[Violation]:
    """At quiet: an item is on the server iff it was created and no decision that observed
    it removed it; and the client's mirror equals the server (ids, order, content)."""
    found: list[Violation] = []
    removals = intended_removals(store, log)
    # What the server refused for reasons of its own (a server error, a frame it would
    # not take) and the client reported as failed (the push's report, an OutputFailed)
    # stays as the server has it: kept when a delete was refused, absent when a create
    # was. A refusal about the conversation (an unknown call, a missing anchor) is the
    # client's own desync and excuses nothing.
    refused = {
        r.event_id for r in log.resolutions if r.status == "error" and r.code in NOT_ABOUT_SYNC
    }
    latest: dict[str, ItemRecord] = {}
    for rec in store.history():
        latest[rec.item.id] = rec
    for item_id, rec in latest.items():
        removed_at = removals.removed_at(log, item_id)
        creator = log.ops.get(rec.created_by) if rec.created_by else None
        # A push's create was decided with the push, however late it was sent.
        created = log.decided_at(creator.push_id if creator and creator.push_id else rec.created_by)
        # A push's own creates are its product (a rewrite under the same id included).
        expected_alive = (removed_at is None or removed_at <= created) and not (
            removed_at is not None and _resurrection(log, rec)
        )
        if rec.evicted_at is not None and rec.deleted_by is None:
            expected_alive = False  # the server's truncation dropped it (session.truncation)
        if expected_alive and not rec.alive and not _lives_on_as_alias(store, log, item_id):
            found.append(Violation(Invariant.CONVERGENCE, item_id, "missing from the server"))
        elif rec.alive and not expected_alive and not _delete_refused(log, item_id, refused):
            found.append(
                Violation(Invariant.CONVERGENCE, item_id, "still on the server though removed")
            )
    for op in log.ops.values():
        if (
            op.kind == "create"
            and op.item_id
            and op.item_id not in latest
            and not op.carried
            and op.event_id not in refused
        ):
            found.append(
                Violation(
                    Invariant.CONVERGENCE, op.item_id, "created by the client, never on the server"
                )
            )
    if mirror is not None:
        found.extend(_compare(list(mirror), store.items()))
    return found


NOT_ABOUT_SYNC = frozenset(
    (error_codes.SERVER_ERROR, error_codes.INVALID_EVENT, error_codes.INVALID_JSON)
)


def _delete_refused(log: CheckLog, item_id: str, refused: set[str]) -> bool:
    """Every delete the client sent for the item was refused by the server (and so
    reported failed): the item rightly stays."""
    deletes = [
        op.event_id for op in log.ops.values() if op.kind == "delete" and op.item_id == item_id
    ]
    return bool(deletes) and all(event_id in refused for event_id in deletes)


def _lives_on_as_alias(store: ConversationStore, log: CheckLog, item_id: str) -> bool:
    """A deleted id a writer put back: the client created it again under a fresh id
    (the server had used this one), recorded as replacing it, and that item is alive."""
    return any(
        op.kind == "create" and op.replaces == item_id and op.item_id and store.get(op.item_id)
        for op in log.ops.values()
    )


def _resurrection(log: CheckLog, rec: ItemRecord) -> bool:
    """Created by a push that had the item, unchanged, in its base: not a new item but a
    re-creation of one that someone else removed (the lost update of race R4)."""
    op = log.ops.get(rec.created_by) if rec.created_by else None
    push = log.pushes.get(op.push_id) if op and op.push_id else None
    if push is None or push.base is None:
        return False
    before = _by_id(push.base).get(rec.item.id)
    return before is not None and _by_id(push.desired).get(rec.item.id) == before


def _compare(mirror: list[Item], server: list[Item]) -> list[Violation]:
    found: list[Violation] = []
    mirror_ids, server_ids = [i.id for i in mirror], [i.id for i in server]
    for extra in sorted(set(mirror_ids) - set(server_ids)):
        found.append(Violation(Invariant.CONVERGENCE, extra, "in the mirror, not on the server"))
    for missing in sorted(set(server_ids) - set(mirror_ids)):
        found.append(Violation(Invariant.CONVERGENCE, missing, "on the server, not in the mirror"))
    if not found and mirror_ids != server_ids:
        found.append(Violation(Invariant.CONVERGENCE, None, "mirror order differs from server"))
    server_by_id = _by_id(server)
    for item in mirror:
        other = server_by_id.get(item.id)
        if other is not None and other != item:
            found.append(
                Violation(Invariant.CONVERGENCE, item.id, f"content differs: {item!r} vs {other!r}")
            )
    return found


# -- invariant 5: every operation resolves exactly once --------------------------------


def check_resolutions(log: CheckLog, *, max_seconds: float | None = None) -> list[Violation]:
    """At quiet: each op has one final resolution (an ``unknown`` may precede it, once),
    none resolves twice, none is resolved that was never sent, all within the bound."""
    found: list[Violation] = []
    by_op: dict[str, list[str]] = defaultdict(list)
    for res in log.resolutions:
        op = log.ops.get(res.event_id)
        if op is None:
            found.append(_unresolved(res.event_id, "resolved but never sent"))
            continue
        by_op[res.event_id].append(res.status)
        if max_seconds is not None and res.at - op.sent_at > max_seconds:
            found.append(_unresolved(res.event_id, f"resolved after {res.at - op.sent_at:.3f}s"))
    for event_id in log.ops:
        statuses = by_op.get(event_id, [])
        finals = [s for s in statuses if s != "unknown"]
        if not finals:
            found.append(_unresolved(event_id, "never resolved" if not statuses else "unsettled"))
        elif len(finals) > 1:
            found.append(_unresolved(event_id, f"resolved {len(finals)} times: {finals}"))
        elif statuses.count("unknown") > 1 or (statuses[0] != "unknown" and len(statuses) > 1):
            found.append(_unresolved(event_id, f"resolution sequence {statuses}"))
    return found


def _unresolved(event_id: str, why: str) -> Violation:
    return Violation(Invariant.RESOLVES_ONCE, None, f"operation {event_id!r} {why}")


# -- invariant 6: idempotence ----------------------------------------------------------


def check_idempotence(log: CheckLog) -> list[Violation]:
    """A push of a context equal to the current one sends nothing."""
    found: list[Violation] = []
    for push in log.pushes.values():
        if push.current is None or list(push.current) != list(push.desired):
            continue
        sent = [op.event_id for op in log.ops_of_push(push.push_id)]
        if sent:
            found.append(
                Violation(
                    Invariant.IDEMPOTENCE,
                    None,
                    f"push {push.push_id!r} of an unchanged context sent {sent}",
                )
            )
    return found


# -- together --------------------------------------------------------------------------


def check_transition(
    store: ConversationStore, since: int = 0, log: CheckLog | None = None
) -> list[Violation]:
    """The invariants that hold on every store transition (2 and 4)."""
    return check_anchors(store, since, log) + check_pairs(store)


def check_quiet(
    store: ConversationStore,
    log: CheckLog,
    mirror: Sequence[Item] | None = None,
    *,
    max_seconds: float | None = None,
) -> list[Violation]:
    """Every invariant that must hold at quiet (7 is judged after each restore, by
    :mod:`accord.verify.restore`)."""
    return (
        check_no_lost_item(store, log)
        + check_transition(store, log=log)
        + check_convergence(store, log, mirror)
        + check_resolutions(log, max_seconds=max_seconds)
        + check_idempotence(log)
    )
