"""The naive push strategy of today's frameworks, kept so tests can show they catch it.

docs/races.md defines it precisely: LiveKit Agents 1.8.9's algorithm. Diff the mirror
of the server against the pushed context (a longest common subsequence on ids; with
unique ids that is the longest increasing run :func:`accord.diff.compute_diff` finds),
delete what the diff removes, create what it adds anchored on the previous pushed item
(``"root"`` when none), re-create a changed message under the same id (content compared
for messages only), keep a mirror that drops an ``item.added`` whose anchor it cannot
find, and send the follow-up ``response.create`` as soon as the outputs are created.
Nothing here knows what the writer had seen, which is the bug.

:class:`NaiveClient` has the engine's interface so the same tests drive both. Never use
it to drive a real session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from accord.diff import compute_diff
from accord.engine import events as ev
from accord.ids import IdGenerator
from accord.items import (
    ChatContext,
    ContextBase,
    FunctionCall,
    FunctionCallOutput,
    Item,
    Message,
)
from accord.protocol.metadata import REQUEST_TAG
from accord.provenance import DeleteReason
from accord.truncation import Truncation


@dataclass(frozen=True, slots=True)
class NaiveDelete:
    item_id: str
    reason: DeleteReason = DeleteReason.PUSH  # REWRITE: the delete half of a re-create


@dataclass(frozen=True, slots=True)
class NaiveCreate:
    item: Item
    previous_item_id: str  # an id, or "root"


NaiveOp = NaiveDelete | NaiveCreate


def naive_push(mirror: Sequence[Item], pushed: Sequence[Item]) -> list[NaiveOp]:
    """The operations the naive strategy sends to make the server equal to ``pushed``."""
    diff = compute_diff(mirror, pushed)
    by_id = {item.id: item for item in pushed}
    ops: list[NaiveOp] = [NaiveDelete(item_id) for item_id in diff.to_remove]
    for prev, item_id in diff.to_update:
        if isinstance(by_id[item_id], Message):  # content compared for messages only
            ops.append(NaiveDelete(item_id, DeleteReason.REWRITE))
            ops.append(NaiveCreate(by_id[item_id], prev or "root"))
    for prev, item_id in diff.to_create:
        ops.append(NaiveCreate(by_id[item_id], prev or "root"))
    return ops


class NaiveClient:
    """Two copies and a diff: the mirror, updated on ``item.added``, and whatever is pushed."""

    def __init__(self, *, seed: int | None = 0) -> None:
        self.ids = IdGenerator(seed, prefix="nv")
        self.mirror: list[Item] = []
        self.pending: dict[str, str] = {}  # event id -> kind
        self.created: dict[str, str] = {}  # item id -> event id of its create
        self.deleting: dict[str, str] = {}  # item id -> event id of its delete
        self.connected = True
        self.active_response: str | None = None
        self._version = 0
        # Calls told to the application: a call is done twice on the wire (its
        # response's output_item.done and conversation.item.done), run once (LiveKit
        # reads calls from response.done; naive is not a double runner).
        self._ready: set[str] = set()

    # -- reading ------------------------------------------------------------------------

    def context(self) -> ChatContext:
        """The mirror, with a base recording what the writer saw (the naive strategy
        itself ignores it; the checker uses it to judge the deletes)."""
        self._version += 1
        items = tuple(self.mirror)
        return ChatContext(items, base=ContextBase(self._version, items))

    def mirror_items(self) -> list[Item]:
        return list(self.mirror)

    def is_quiet(self, out_of_band: bool = True) -> bool:
        waiting = any(out_of_band or kind != "oob_response" for kind in self.pending.values())
        return not waiting and self.active_response is None

    def aliases(self) -> dict[str, str]:
        return {}

    def set_truncation(self, truncation: Truncation) -> None:
        """Ignored: the naive strategy never asks what the server dropped by itself."""

    # -- local inputs -------------------------------------------------------------------

    def push(
        self, ctx: ChatContext, now: float, *, explicit_replace: bool = False
    ) -> tuple[str, list[ev.Effect]]:
        push_id = self.ids.new("push")
        effects: list[ev.Effect] = []
        for op in naive_push(self.mirror, ctx.items):
            if isinstance(op, NaiveDelete):
                effects.append(self._delete(op.item_id, op.reason, push_id))
            else:
                effects.append(self._create(op.item, op.previous_item_id, push_id))
        sent = tuple(e.op.event_id for e in effects if isinstance(e, ev.Send))
        effects.append(ev.ContextSynced(ev.PushReport(push_id, sent=sent)))
        return push_id, effects

    def generate_reply(
        self,
        now: float,
        *,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input_items: tuple[str | Item, ...] = (),
    ) -> tuple[str, list[ev.Effect]]:
        event_id = self.ids.new("evt")
        self.pending[event_id] = "oob_response" if out_of_band else "response"
        tagged = {**(metadata or {}), REQUEST_TAG: event_id}  # so a caller can match it
        request = ev.CreateResponse(event_id, out_of_band, instructions, tagged, tuple(input_items))
        return event_id, [ev.Send(request)]

    def interrupt(
        self, now: float, *, item_id: str | None = None, played_ms: int | None = None
    ) -> list[ev.Effect]:
        effects: list[ev.Effect] = []
        event_id = self.ids.new("evt")
        self.pending[event_id] = "cancel"
        effects.append(ev.Send(ev.CancelResponse(event_id)))
        if item_id is not None and played_ms is not None:
            truncate_id = self.ids.new("evt")
            self.pending[truncate_id] = "truncate"
            effects.append(
                ev.Send(ev.TruncateItem(truncate_id, item_id, played_ms), played_ms=played_ms)
            )
        return effects

    def tool_started(self, call_id: str, now: float) -> list[ev.Effect]:
        return []

    def tool_finished(self, call_id: str, output: str, now: float) -> list[ev.Effect]:
        """The output goes after its call, and the follow-up right behind it."""
        call = next(
            (i for i in self.mirror if isinstance(i, FunctionCall) and i.call_id == call_id),
            None,
        )
        out = FunctionCallOutput(id=self.ids.new("out"), call_id=call_id, output=output)
        create = self._create(out, call.id if call is not None else "root", None)
        _, reply = self.generate_reply(now)
        return [create, *reply]

    def tool_abandoned(self, call_id: str, now: float, *, delete: bool = True) -> list[ev.Effect]:
        return self.tool_finished(call_id, '{"error": "abandoned"}', now)

    def operation_answered(self, error: ev.ServerError) -> ev.Refusal | None:
        return None  # the naive strategy never knows what an error was about

    def retrying(self, event_id: str) -> bool:
        return False

    def update_session(
        self, fields: Mapping[str, Any], now: float, *, configuration: bool = False
    ) -> tuple[str, list[ev.Effect]]:
        """Sent as it is, answered by the next ``session.updated``; a drop leaves it
        hanging, like every naive future."""
        event_id = self.ids.new("evt")
        self.pending[event_id] = "session"
        return event_id, [ev.Send(ev.UpdateSession(event_id, False, dict(fields)))]

    def tick(self, now: float) -> list[ev.Effect]:
        return []

    def connection_lost(self, now: float) -> list[ev.Effect]:
        self.connected = False
        return []  # pending futures just hang

    def connected_again(self, now: float) -> list[ev.Effect]:
        """Re-send the local copy, in order, each after the previous one."""
        self.connected = True
        items, self.mirror = self.mirror, []
        self.active_response = None
        effects: list[ev.Effect] = []
        prev = "root"
        for item in items:
            effects.append(self._create(item, prev, None))
            prev = item.id
        return effects

    # -- server inputs ------------------------------------------------------------------

    def receive(self, event: ev.ServerInput, now: float) -> list[ev.Effect]:
        effects: list[ev.Effect] = []
        if isinstance(event, ev.ItemAdded):
            self._mirror_add(event.item, event.previous_item_id)
            effects.extend(self._ack(self.created.pop(event.item.id, None)))
        elif isinstance(event, ev.ItemUpdated):
            self.mirror = [event.item if i.id == event.item.id else i for i in self.mirror]
            if (
                event.done
                and isinstance(event.item, FunctionCall)
                and event.item.call_id not in self._ready
            ):
                self._ready.add(event.item.call_id)
                effects.append(ev.FunctionCallReady(event.item, self.active_response))
        elif isinstance(event, ev.ItemDeleted):
            self.mirror = [i for i in self.mirror if i.id != event.item_id]
            effects.extend(self._ack(self.deleting.pop(event.item_id, None)))
        elif isinstance(event, ev.ItemTruncated):
            self.mirror = [
                replace(i, content="", audio_ms=event.audio_end_ms)
                if i.id == event.item_id and isinstance(i, Message)
                else i
                for i in self.mirror
            ]
            effects.extend(self._ack_kind("truncate"))
        elif isinstance(event, ev.TranscriptDone):
            self.mirror = [
                replace(i, content=event.transcript)
                if i.id == event.item_id and isinstance(i, Message) and event.transcript
                else i
                for i in self.mirror
            ]
        elif isinstance(event, ev.ResponseCreated):
            if not event.out_of_band:
                self.active_response = event.response_id
            effects.extend(self._ack_kind("response", "oob_response"))
        elif isinstance(event, ev.ResponseDone):
            if self.active_response == event.response_id:
                self.active_response = None
            effects.extend(self._ack_kind("cancel"))
        elif isinstance(event, ev.ServerError):
            if event.event_id in self.pending:
                del self.pending[event.event_id]
                effects.append(ev.OpResolved(event.event_id, "error", event.code, event.message))
        elif isinstance(event, ev.SessionUpdated):
            effects.extend(self._ack_kind("session"))
        return effects

    # -- internals ----------------------------------------------------------------------

    def _mirror_add(self, item: Item, previous_item_id: str | None) -> None:
        if previous_item_id is None:
            self.mirror.insert(0, item)
            return
        for i, existing in enumerate(self.mirror):
            if existing.id == previous_item_id:
                self.mirror.insert(i + 1, item)
                return
        # The anchor is unknown: the naive mirror drops the item (race R6).

    def _create(self, item: Item, previous: str, push_id: str | None) -> ev.Send:
        event_id = self.ids.new("evt")
        self.pending[event_id] = "create"
        self.created[item.id] = event_id
        return ev.Send(ev.CreateItem(event_id, item, previous), push_id=push_id)

    def _delete(self, item_id: str, reason: DeleteReason, push_id: str) -> ev.Send:
        event_id = self.ids.new("evt")
        self.pending[event_id] = "delete"
        self.deleting[item_id] = event_id
        return ev.Send(ev.DeleteItem(event_id, item_id), reason=reason, push_id=push_id)

    def _ack(self, event_id: str | None) -> list[ev.Effect]:
        if event_id is None or event_id not in self.pending:
            return []
        del self.pending[event_id]
        return [ev.OpResolved(event_id, "success")]

    def _ack_kind(self, *kinds: str) -> list[ev.Effect]:
        for event_id, pending_kind in self.pending.items():
            if pending_kind in kinds:
                return self._ack(event_id)
        return []
