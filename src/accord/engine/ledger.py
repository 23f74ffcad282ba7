"""Operations from plan to resolution, the projected state, versions and aliases.

Each operation moves through one table (:data:`OP_TRANSITIONS`), as h11 keeps its
states: an illegal move raises :class:`LocalProtocolError` instead of corrupting state.
The projected state is the mirror with every unresolved operation applied: the state a
writer's snapshot shows and the state a push merges against, so pushing again before
the acks sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from accord.engine.events import CreateResponse
from accord.engine.mirror import Mirror
from accord.items import Item
from accord.provenance import DeleteReason


class LocalProtocolError(Exception):
    """The engine (our side) tried something the protocol or its own tables forbid."""


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

OpKind = Literal["create", "delete", "truncate", "response", "cancel", "session"]


@dataclass(eq=False)
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
    server_vad: bool | None = None  # session
    state: OpState = OpState.WAITING
    deferred: bool = False  # a delete that had to wait for its item to land
    follow_up_of: int | None = None  # a follow-up: the response counter when outputs landed
    planned_at: float = 0.0
    sent_at: float | None = None

    @property
    def open(self) -> bool:
        return self.state is not OpState.DONE


@dataclass
class PushState:
    """A push whose operations are still resolving."""

    push_id: str
    ops: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    aliased: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Ledger:
    """All operations in planning order, plus aliases and the version counter."""

    def __init__(self) -> None:
        self.ops: dict[str, Op] = {}
        self.pushes: dict[str, PushState] = {}
        self.aliases: dict[str, str] = {}
        self.version = 0
        self._seq = 0

    def bump(self) -> None:
        self.version += 1

    def add(self, op: Op) -> Op:
        if op.event_id in self.ops:
            raise LocalProtocolError(f"event id {op.event_id!r} used twice")
        self.ops[op.event_id] = op
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
        op.state = nxt
        self.bump()

    def open_ops(self) -> Iterator[Op]:
        return (op for op in list(self.ops.values()) if op.open)

    def forget_done(self) -> None:
        """Drop resolved operations no unfinished push still reports on: their effects
        are in the mirror now, and a long session must not keep every op it ever sent."""
        keep = {event_id for state in self.pushes.values() for event_id in state.ops}
        for event_id in [e for e, op in self.ops.items() if not op.open and e not in keep]:
            del self.ops[event_id]

    def find_open(self, kind: OpKind, item_id: str) -> Op | None:
        for op in self.ops.values():
            if op.open and op.kind == kind and op.item_id == item_id:
                return op
        return None

    # -- the projected state ------------------------------------------------------------

    def projected(self, mirror: Mirror) -> list[Item]:
        """The mirror with every open create and delete applied, in planning order.

        A create goes right after its intended predecessor; when that predecessor is
        gone it goes after the predecessor's surviving predecessor.
        """
        deleting = {op.item_id for op in self.ops.values() if op.open and op.kind == "delete"}
        order: list[Item] = [item for item in mirror if item.id not in deleting]
        positions = {item.id: i for i, item in enumerate(order)}
        for op in self.ops.values():
            if not (op.open and op.kind == "create" and op.item is not None):
                continue
            if op.item.id in positions or op.item.id in deleting:
                continue  # already acknowledged, or about to be removed again
            at = self._slot_after(op.after, positions, mirror)
            order.insert(at, op.item)
            positions = {item.id: i for i, item in enumerate(order)}
        return order

    def _slot_after(self, after: str | None, positions: dict[str, int], mirror: Mirror) -> int:
        seen = 0
        while after is not None and after not in positions and seen < 10_000:
            seen += 1
            pending = self._pending_create(after)
            if pending is not None:
                after = pending.after
            elif after in mirror or mirror.was_deleted(after):
                after = mirror.surviving_predecessor(after)
            else:
                after = None
        return 0 if after is None else positions[after] + 1

    def _pending_create(self, item_id: str) -> Op | None:
        for op in self.ops.values():
            if op.kind == "create" and op.item is not None and op.item.id == item_id:
                return op
        return None
