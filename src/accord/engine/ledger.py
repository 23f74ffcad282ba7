"""Operations from plan to resolution, the projected state, versions and aliases.

Each operation moves through one table (:data:`OP_TRANSITIONS`), as h11 keeps its
states: an illegal move raises :class:`~accord.errors.LocalProtocolError` (our side
broke its own table) instead of corrupting state.
The projected state is the mirror with every unresolved operation applied: the state a
writer's snapshot shows and the state a push merges against, so pushing again before
the acks sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from accord.engine.events import ContextSynced, CreateResponse, PushReport
from accord.engine.mirror import Mirror
from accord.errors import LocalProtocolError
from accord.items import Item
from accord.provenance import DeleteReason


class OpState(Enum):
    WAITING = "waiting"  # planned, not sent: anchor, call, in-flight item or slot pending
    SENT = "sent"
    UNKNOWN = "unknown"  # timed out on a live socket: settled by a later event or restore
    RESTORING = "restoring"  # pending at a disconnect: settled when the restore is acked
    DONE = "done"


OP_TRANSITIONS: dict[tuple[OpState, str], OpState] = {
    (OpState.WAITING, "send"): OpState.SENT,
    (OpState.WAITING, "retract"): OpState.DONE,
    (OpState.WAITING, "resolve"): OpState.DONE,  # moot before sending (item already gone)
    (OpState.WAITING, "drop"): OpState.RESTORING,
    (OpState.SENT, "resolve"): OpState.DONE,
    (OpState.SENT, "timeout"): OpState.UNKNOWN,
    (OpState.SENT, "requeue"): OpState.WAITING,  # busy: send again after the response
    (OpState.SENT, "drop"): OpState.RESTORING,
    (OpState.UNKNOWN, "resolve"): OpState.DONE,
    (OpState.UNKNOWN, "drop"): OpState.RESTORING,
    (OpState.RESTORING, "drop"): OpState.RESTORING,
    (OpState.RESTORING, "resolve"): OpState.DONE,
}

OpKind = Literal["create", "delete", "retrieve", "truncate", "response", "cancel", "session"]


@dataclass(eq=False, slots=True)
class Op:
    """One client operation. Mutable only through :meth:`Ledger.move`."""

    event_id: str
    kind: OpKind
    seq: int
    push_id: str | None = None
    item: Item | None = None  # create
    item_id: str | None = None  # create, delete, truncate
    after: str | None = None  # create: the intended predecessor (None: the start)
    replaces: str | None = None  # create: the rewritten or moved id
    reason: DeleteReason | None = None
    partner_of: str | None = None
    played_ms: int | None = None
    audio_end_ms: int | None = None
    response: CreateResponse | None = None
    server_vad: bool | None = None  # session: the engine's VAD toggle around a restore
    # session: the fields of an update_session or of a connection's configuration
    fields: dict[str, Any] | None = None
    answers: tuple[str, ...] = ()  # session: updates carried across a drop it answers
    state: OpState = OpState.WAITING
    deferred: bool = False  # a delete that had to wait for its item to land
    # An in-band response request (a follow-up, or a plain reply): the in-band response
    # counter when everything it answers had landed. A response created after that sees
    # it all, so this request, still unsent, would answer the same things twice (R14).
    answers_upto: int | None = None
    # A plain reply planned while creates were on their way: their event ids. When the
    # last of them resolves, answers_upto is known (everything it answers has landed).
    awaits: set[str] | None = None
    # An out-of-band request reading conversation items (``input_items``): their local
    # ids. It is sent once none of them has a create still open: a create in transit
    # may yet be refused and retried behind the request, which would then name an item
    # the server does not hold ("Item with id ... not found in conversation").
    reads: frozenset[str] = frozenset()
    planned_at: float = 0.0
    sent_at: float | None = None
    sent_order: int = 0  # when it was (last) sent, counted over the connection's sends
    sent_previous: str | None = None  # create: the previous_item_id it was (last) sent with
    attempts: int = 0  # sends refused by a transient error and sent again
    reanchored: bool = False  # create: refused for its anchor once and sent again

    @property
    def open(self) -> bool:
        return self.state is not OpState.DONE


@dataclass(slots=True)
class PushState:
    """A push whose operations are still resolving. ``waiting_on`` counts its ops that
    are neither resolved nor deferred: the push is done when it reaches zero."""

    push_id: str
    ops: list[str] = field(default_factory=list)
    # Tuples, grown by concatenation: mostly empty, and an empty tuple is shared where
    # an empty list is one more object per push for the garbage collector to walk.
    failed: tuple[tuple[str, str], ...] = ()
    aliased: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    waiting_on: int = 0


MAX_ANCHOR_WALK = 100_000  # a bound on anchor chains, far above any real conversation
IN_TRANSIT = (OpState.SENT, OpState.UNKNOWN)


def _size(item: Item | None) -> int:
    """About how many characters the item takes on the wire."""
    return 0 if item is None else len(repr(item))


class Ledger:
    """Operations in planning order, indexed so that every event costs O(1) bookkeeping.

    Indexes: open ops by (kind, item id); ops waiting to be sent; creates and deletes in
    transit; the intended predecessor of every create that failed, so later creates
    anchored on it still land after the right survivor.
    """

    def __init__(self) -> None:
        self.ops: dict[str, Op] = {}
        self.pushes: dict[str, PushState] = {}
        self.aliases: dict[str, str] = {}
        self.failed_after: dict[str, str | None] = {}
        self.version = 0
        self._seq = 0
        self._open: dict[tuple[str, str], list[Op]] = {}
        self._waiting: dict[str, Op] = {}
        self._in_transit = 0
        self._done: list[str] = []

    def bump(self) -> None:
        self.version += 1

    @property
    def seq(self) -> int:
        """How many operations were planned or sent so far: with :attr:`version`, tells
        a journal writer whether anything it records may have changed."""
        return self._seq

    def add(self, op: Op) -> Op:
        if op.event_id in self.ops:
            raise LocalProtocolError(f"event id {op.event_id!r} used twice")
        self.ops[op.event_id] = op
        if op.item_id is not None:
            self._open.setdefault((op.kind, op.item_id), []).append(op)
        self._waiting[op.event_id] = op
        if op.push_id is not None:
            self.pushes[op.push_id].ops.append(op.event_id)
            self.pushes[op.push_id].waiting_on += 1
        self.bump()
        return op

    def push_state(self, push_id: str) -> PushState:
        state = PushState(push_id)
        self.pushes[push_id] = state
        return state

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def move(self, op: Op, action: str) -> None:
        nxt = OP_TRANSITIONS.get((op.state, action))
        if nxt is None:
            raise LocalProtocolError(f"operation {op.event_id}: cannot {action} from {op.state}")
        before = op.state
        op.state = nxt
        if before is OpState.WAITING:
            self._waiting.pop(op.event_id, None)
        if nxt is OpState.WAITING:
            self._waiting[op.event_id] = op
        if op.kind in ("create", "delete"):
            self._in_transit += (nxt in IN_TRANSIT) - (before in IN_TRANSIT)
        if nxt is OpState.DONE:
            self._closed(op)
        self.bump()

    def defer(self, op: Op) -> None:
        """The op waits for its item to land: its push need not wait for it."""
        if not op.deferred:
            op.deferred = True
            self._release_push(op)

    def _closed(self, op: Op) -> None:
        if op.item_id is not None:
            bucket = self._open.get((op.kind, op.item_id), [])
            if op in bucket:
                bucket.remove(op)
            if not bucket:
                self._open.pop((op.kind, op.item_id), None)
        if not op.deferred:
            self._release_push(op)
        if op.push_id is None or op.push_id not in self.pushes:
            self._done.append(op.event_id)  # a push's ops go when its report is made

    def _release_push(self, op: Op) -> None:
        state = self.pushes.get(op.push_id) if op.push_id else None
        if state is not None:
            state.waiting_on -= 1

    def waiting(self) -> list[Op]:
        """Ops not sent yet, in planning order."""
        return sorted(self._waiting.values(), key=lambda o: o.seq)

    def has_waiting(self) -> bool:
        return bool(self._waiting)

    def in_transit(self) -> bool:
        """A create or delete is sent and not yet acknowledged."""
        return self._in_transit > 0

    def open_ops(self) -> Iterator[Op]:
        return (op for op in list(self.ops.values()) if op.open)

    def forget_done(self) -> None:
        """Drop resolved operations no unfinished push still reports on: their effects
        are in the mirror now, and a long session must not keep every op it ever sent.
        O(resolved since the last call): a push's ops are queued when it finishes."""
        if not self._done:
            return
        for event_id in self._done:
            op = self.ops.get(event_id)
            if op is not None and not op.open:
                del self.ops[event_id]
        self._done.clear()  # the same list: a new one per server event outlived it

    def finished_pushes(self) -> Iterator[ContextSynced]:
        """The report of every push whose operations are all resolved or deferred, each
        once; its resolved ops may go after it."""
        for push_id, state in list(self.pushes.items()):
            if state.waiting_on > 0:
                continue
            del self.pushes[push_id]
            self._done.extend(state.ops)
            ops = [self.ops[e] for e in state.ops if e in self.ops]
            yield ContextSynced(
                PushReport(
                    push_id,
                    sent=tuple(op.event_id for op in ops if op.sent_at is not None),
                    deferred=tuple(op.item_id or "" for op in ops if op.deferred),
                    failed=state.failed,
                    aliased=state.aliased,
                    notes=state.notes,
                )
            )

    def find_open(self, kind: OpKind, item_id: str) -> Op | None:
        """The open op of ``kind`` on ``item_id`` sent on this connection (one waiting
        for a restore is settled by the restore), else any open one."""
        bucket = self._open.get((kind, item_id))
        if not bucket:
            return None
        for op in bucket:
            if op.state is not OpState.RESTORING:
                return op
        return bucket[0]

    def open_create(self, item_id: str) -> Op | None:
        return self.find_open("create", item_id)

    def oldest_sent(self, kinds: frozenset[str], *, largest: bool = False) -> Op | None:
        """The op an error without an event id answers: the earliest sent one of these
        kinds still waiting for its answer (the server answers frames in order), or with
        ``largest`` the one with the largest item (a refusal that blames the size)."""
        sent = [op for op in self.ops.values() if op.state is OpState.SENT and op.kind in kinds]
        if not sent:
            return None
        if largest:
            return max(sent, key=lambda op: (_size(op.item), -op.sent_order))
        return min(sent, key=lambda op: op.sent_order)

    # -- the projected state ------------------------------------------------------------

    def projected(self, mirror: Mirror) -> Sequence[Item]:
        """The mirror with every open create and delete applied, in O(n + k).

        Each create goes right after its intended predecessor (of several at one anchor,
        the later-planned first, as the server places them); when the predecessor is
        gone it goes after the predecessor's surviving predecessor. With nothing on its
        way, the mirror's own snapshot (the same tuple until the mirror changes).
        """
        deleting = {key[1] for key in self._open if key[0] == "delete"}
        creates = [
            op
            for key, bucket in self._open.items()
            if key[0] == "create"
            for op in bucket[:1]
            if op.item is not None
        ]
        if not creates and not deleting:
            return mirror.snapshot()
        creates.sort(key=lambda o: o.seq)
        pending = {op.item.id: op for op in creates if op.item is not None}
        children: dict[str | None, list[Item]] = {}
        for op in creates:
            assert op.item is not None
            if op.item.id in mirror or op.item.id in deleting:
                continue  # already acknowledged, or about to be removed again
            anchor = self._resolve_anchor(op.after, pending, deleting, mirror)
            children.setdefault(anchor, []).append(op.item)
        order: list[Item] = []

        def place(anchor: str | None) -> None:
            # Creates at one anchor land as the server will place them: the one sent
            # last right after the anchor (an output goes right after its call).
            stack = list(children.get(anchor, []))
            while stack:
                item = stack.pop()
                order.append(item)
                stack.extend(children.get(item.id, []))

        place(None)
        for item in mirror:
            if item.id not in deleting:
                order.append(item)
                place(item.id)
        return order

    def _resolve_anchor(
        self, after: str | None, pending: dict[str, Op], deleting: set[str], mirror: Mirror
    ) -> str | None:
        """The id a create will actually follow in the projected state."""
        for _ in range(MAX_ANCHOR_WALK):
            if after is None:
                return None
            if (after in pending or after in mirror) and after not in deleting:
                return after
            if after in self.failed_after:
                after = self.failed_after[after]
            elif after in pending:
                after = pending[after].after
            elif after in mirror or mirror.was_deleted(after):
                after = mirror.surviving_predecessor(after)
            else:
                return None
        return None
