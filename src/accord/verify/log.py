"""What a checker needs to know besides the server's store: the decisions behind operations.

Whoever drives a session (a test, the demo, the stress run, a replay) records here each
push (its base and desired context), each operation sent (its ``event_id`` and the
decision it came from), each resolution of an operation, and each tool report. Positions
in time are the store's transition counter at that moment, so records from the client
side and the server side can be ordered against each other in-process.

Strategies record their decisions truthfully, the naive one included: the checker does
not trust a reason, it verifies it against the push and the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from accord.engine import events as ev
from accord.items import Item
from accord.provenance import DeleteReason

__all__ = [
    "CheckLog",
    "DeleteReason",
    "OpRecord",
    "PushRecord",
    "Resolution",
    "ToolReport",
    "op_record",
]


OpKind = Literal[
    "create", "delete", "retrieve", "truncate", "response.create", "response.cancel", "other"
]
Status = Literal["success", "error", "failure", "unknown"]
ToolEvent = Literal["started", "finished", "abandoned"]


@dataclass(frozen=True, slots=True)
class PushRecord:
    """One ``update_chat_ctx``: what the writer had seen and what it wants.

    ``base`` is None for a context built from scratch. ``current`` is the writer-side
    view of the conversation when it pushed (used to check that pushing an unchanged
    context sends nothing); None when unknown.
    """

    push_id: str
    base: tuple[Item, ...] | None
    desired: tuple[Item, ...]
    at_transition: int
    current: tuple[Item, ...] | None = None
    explicit_replace: bool = False


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One client operation sent, with the decision it came from."""

    event_id: str
    kind: OpKind
    at_transition: int
    sent_at: float = 0.0
    item_id: str | None = None
    push_id: str | None = None
    reason: DeleteReason | None = None
    partner_of: str | None = None  # PAIR_CASCADE: the removed item whose pair this is
    played_ms: int | None = None  # INTERRUPTION: how much of the item was played
    replaces: str | None = None  # a create that rewrites or moves this id (its alias)
    carried: bool = False  # pending at a disconnect: settled by the restore
    # Who decided it: this client, or another writer on the same conversation (a second
    # connection), whose deletes the judge holds to the same rule.
    writer: str = "client"


@dataclass(frozen=True, slots=True)
class Resolution:
    """How an operation ended. ``unknown`` (a timeout on a live socket) must be settled."""

    event_id: str
    status: Status
    at: float = 0.0
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ToolReport:
    call_id: str
    event: ToolEvent
    at_transition: int


@dataclass
class CheckLog:
    """The operation log, the resolution log, the push log and the tool log together."""

    pushes: dict[str, PushRecord] = field(default_factory=dict)
    ops: dict[str, OpRecord] = field(default_factory=dict)
    resolutions: list[Resolution] = field(default_factory=list)
    tool_reports: list[ToolReport] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)  # push or event id -> record order

    def push(self, record: PushRecord) -> None:
        if record.push_id in self.pushes:
            raise ValueError(f"push {record.push_id!r} recorded twice")
        self.pushes[record.push_id] = record
        self.order[record.push_id] = len(self.order)

    def op(self, record: OpRecord) -> None:
        if record.event_id in self.ops:
            raise ValueError(f"operation {record.event_id!r} recorded twice")
        self.ops[record.event_id] = record
        self.order[record.event_id] = len(self.order)

    def decided_at(self, key: str | None) -> int:
        """Where a push or an operation stands in the client's own order of decisions
        (-1: not a client decision, e.g. an item the server made)."""
        return self.order.get(key, -1) if key is not None else -1

    def resolve(self, resolution: Resolution) -> None:
        self.resolutions.append(resolution)

    def tool(self, report: ToolReport) -> None:
        self.tool_reports.append(report)

    def ops_of_push(self, push_id: str) -> Iterable[OpRecord]:
        return (op for op in self.ops.values() if op.push_id == push_id)


def op_record(effect: ev.Send, transitions: int, now: float) -> OpRecord:
    """The check-log record of one operation sent, with the decision it came from."""
    op = effect.op
    kind: OpKind
    item_id: str | None = None
    if isinstance(op, ev.CreateItem):
        kind, item_id = "create", op.item.id
    elif isinstance(op, ev.DeleteItem):
        kind, item_id = "delete", op.item_id
    elif isinstance(op, ev.RetrieveItem):
        kind, item_id = "retrieve", op.item_id
    elif isinstance(op, ev.TruncateItem):
        kind, item_id = "truncate", op.item_id
    elif isinstance(op, ev.CreateResponse):
        kind = "response.create"
    elif isinstance(op, ev.CancelResponse):
        kind = "response.cancel"
    else:
        kind = "other"
    return OpRecord(
        op.event_id,
        kind,
        transitions,
        sent_at=now,
        item_id=item_id,
        push_id=effect.push_id,
        reason=effect.reason,
        partner_of=effect.partner_of,
        played_ms=effect.played_ms,
        replaces=effect.replaces,
    )
