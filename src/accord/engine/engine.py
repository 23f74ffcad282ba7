"""SyncEngine: the facade that wires mirror, merge, ledger, scheduler, responses, restore.

Sans-I/O, like h11's ``Connection``: every input method takes ``now`` and returns the
effects it causes (client operations to send, resolutions, reports); nothing here
touches a socket, a task or a clock. The shell (``session.py``) sends what it is told
and feeds back what arrives; tests feed the simulator's store instead. What each server
input does lives in :mod:`accord.engine.inbound`; the drop and restore in
:mod:`accord.engine.reconnect`; the follow-up rule in :mod:`accord.engine.followups`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.configure import plan_update
from accord.engine.eviction import Doubts
from accord.engine.followups import FollowUps
from accord.engine.inbound import HANDLERS, answered_op
from accord.engine.ledger import Ledger, Op, OpKind, OpState
from accord.engine.mcp import approval_open
from accord.engine.merge import MergeInput, merge, resolve_alias
from accord.engine.mirror import Mirror
from accord.engine.prune import Pruner
from accord.engine.reconnect import Reconnect
from accord.engine.responses import Responses
from accord.engine.restore import AtDrop
from accord.engine.resume import ResumeInput, seed
from accord.engine.scheduler import Scheduler, send_effect
from accord.engine.wire_ids import WireIds
from accord.ids import IdGenerator
from accord.items import (
    ChatContext,
    ContextBase,
    FunctionCall,
    FunctionCallOutput,
    Item,
    McpApprovalRequest,
    Message,
)
from accord.protocol.error_codes import CALL_GONE
from accord.protocol.metadata import REQUEST_TAG
from accord.provenance import DeleteReason
from accord.truncation import Truncation


class SyncEngine:
    """Keeps the client's view and the server's conversation in agreement."""

    def __init__(self, config: EngineConfig | None = None, *, seed: int | None = 0) -> None:
        self.config = config or EngineConfig()
        self.ids = IdGenerator(seed, prefix="acc")
        self.wire_ids = WireIds(None if seed is None else seed + 1)
        self.mirror = Mirror()
        self.ledger = Ledger()
        self.responses = Responses()
        self.doubts = Doubts()  # items the server may have dropped (engine/eviction.py)
        self.scheduler = Scheduler(
            self.ledger,
            mirror=self.mirror,
            responses=self.responses,
            rules=self.config.rules,
            capabilities=self.config.capabilities,
            in_flight=self.in_flight,
            doubtful=self.doubts.blocks,
        )
        self.followups = FollowUps()
        self.pruner = Pruner()  # forgets finished records at quiet points (engine/prune.py)
        self.reconnect = Reconnect(self)
        self.connected = True
        self.audio_seen: dict[str, tuple[str, int | None]] = {}  # id -> (transcript, ms)
        self.heard: dict[str, int] = {}  # truncated assistant audio -> audio_end_ms
        self.calls_ready: set[str] = set()
        self._replies_awaiting: set[str] = set()  # plain replies waiting for creates to land
        self._snapshot: tuple[int, ContextBase] | None = None

    # -- reading ------------------------------------------------------------------------

    def context(self) -> ChatContext:
        """The projected conversation as a context carrying its base (this version)."""
        version = self.ledger.version
        if self._snapshot is None or self._snapshot[0] != version:
            projected = self.ledger.projected(self.mirror)
            items = self.wire_ids.all_to_local(projected)
            self._snapshot = (version, ContextBase(version, items))
        base = self._snapshot[1]
        return ChatContext(base.items, base=base)

    def mirror_items(self) -> list[Item]:
        return self.mirror.items()

    def is_quiet(self, out_of_band: bool = True) -> bool:
        """No open op, no response, no item in flight, no running tool. With
        ``out_of_band=False``, out-of-band responses (and their requests) still running
        do not count: they never enter the conversation."""

        def counts(oob: bool) -> bool:
            return out_of_band or not oob

        return (
            not any(
                op.open and counts(op.response is not None and op.response.out_of_band)
                for op in self.ledger.ops.values()
            )
            and not self.responses.inband_busy()
            and not any(
                not info.done and counts(info.out_of_band) for info in self.responses.by_id.values()
            )
            and not self.responses.tools_running
            and not self.responses.awaiting_transcript
        )

    def aliases(self) -> dict[str, str]:
        return dict(self.ledger.aliases)

    @property
    def at_drop(self) -> list[AtDrop] | None:
        """The projected state frozen at the last drop, until its restore completes."""
        return self.reconnect.at_drop

    # -- local inputs -------------------------------------------------------------------

    def push(
        self, ctx: ChatContext, now: float, *, explicit_replace: bool = False
    ) -> tuple[str, list[ev.Effect]]:
        """Merge ``ctx`` (with its base) into the projected state and plan the ops."""
        push_id = self.ids.new("push")
        projected = self.ledger.projected(self.mirror)
        base = None if ctx.base is None else self.wire_ids.all_to_wire(ctx.base.items, projected)
        plan = merge(
            MergeInput(
                base=base,
                desired=self.wire_ids.all_to_wire(ctx.items, projected),
                projected=projected,
                # Nothing on its way: the projected state is the mirror's own snapshot.
                projected_ids=self.mirror if projected is self.mirror.snapshot() else None,
                aliases=self.ledger.aliases,
                # A context built from scratch cannot say it saw a delete being sent, so
                # it never brings such an item back; one with a base that lacks the item
                # saw it go and may put it back while the delete is unacknowledged.
                known_deleted=self._known_deleted if base is None else self.mirror.was_deleted,
                in_flight=self.in_flight,
                new_id=lambda _item: self.ids.new("acc"),
                retractable=self._retractable,
                explicit_replace=explicit_replace,
                rules=self.config.rules,
            )
        )
        state = self.ledger.push_state(push_id)
        state.failed += tuple(plan.failed)
        state.notes += (*plan.notes, *self.config.capabilities.notes(plan.creates, plan.removals))
        state.aliased += tuple(plan.aliases.items())
        self.ledger.aliases.update(plan.aliases)
        effects: list[ev.Effect] = []
        for item_id in plan.retracted:
            effects.extend(self._retract(item_id))
        for create in plan.creates:
            self.plan(
                "create",
                now,
                push_id=push_id,
                item=create.item,
                item_id=create.item.id,
                after=create.after,
                replaces=create.replaces,
            )
        for removal in plan.removals:
            self.plan(
                "delete",
                now,
                push_id=push_id,
                item_id=removal.item_id,
                reason=removal.reason,
                partner_of=removal.partner_of,
            )
        effects.extend(self.flush(now))
        effects.extend(self.finish_pushes())
        self.ledger.forget_done()
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
        """Ask for a response through the slot (in-band) or beside it (out-of-band).

        ``input_items``, the response's own context: a string names a conversation item
        by the application's id (resolved through rewrite aliases and wire ids, and kept
        undeleted until the response is done); an item is sent inline, read by the model
        and never part of the conversation.
        """
        named = [resolve_alias(self.ledger.aliases, i) for i in input_items if isinstance(i, str)]
        context = tuple(
            self.wire_ids.id_to_wire(resolve_alias(self.ledger.aliases, i))
            if isinstance(i, str)
            else i
            for i in input_items
        )
        refs = tuple(i for i in context if isinstance(i, str))
        event_id = self._plan_response(now, instructions, out_of_band, metadata, context)
        if not (out_of_band or instructions or context):
            # A plain reply answers the conversation as it is now: the items that landed
            # and the creates still on their way (it knows what it answers once they land).
            op = self.ledger.ops[event_id]
            awaits = {o.event_id for o in self.ledger.open_ops() if o.kind == "create"}
            if not awaits:
                op.answers_upto = self.responses.landed_counter
            else:
                op.awaits = awaits
                self._replies_awaiting.add(event_id)
        if out_of_band:
            self.responses.refer(event_id, frozenset(refs))
            self.ledger.ops[event_id].reads = frozenset(named)
        return event_id, self.flush(now)

    def _plan_response(
        self,
        now: float,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input_items: tuple[str | Item, ...] = (),
        *,
        answers_upto: int | None = None,
    ) -> str:
        event_id = self.ids.new("evt")
        tagged = {**(metadata or {}), REQUEST_TAG: event_id}
        request = ev.CreateResponse(event_id, out_of_band, instructions, tagged, input_items)
        op = self.plan("response", now, event_id=event_id, response=request)
        op.answers_upto = answers_upto
        return event_id

    def interrupt(
        self, now: float, *, item_id: str | None = None, played_ms: int | None = None
    ) -> list[ev.Effect]:
        """Barge-in: cancel the in-band response, then truncate what was played of
        ``item_id`` or delete it when nothing was played."""
        notes: list[ev.Effect] = []
        if self.responses.inband_busy():
            self.plan("cancel", now)
        if item_id is not None and played_ms is not None:
            if played_ms <= 0:
                self.plan(
                    "delete", now, item_id=item_id, reason=DeleteReason.INTERRUPTION, played_ms=0
                )
            elif self.config.capabilities.can_truncate:
                self.plan(
                    "truncate", now, item_id=item_id, audio_end_ms=played_ms, played_ms=played_ms
                )
            else:
                notes.append(
                    ev.Notice(f"provider cannot truncate: {item_id} stays whole on the server")
                )
        return notes + self.flush(now)

    def tool_started(self, call_id: str, now: float) -> list[ev.Effect]:
        self.responses.tool_started(call_id)
        return self.flush(now)

    def tool_finished(self, call_id: str, output: str, now: float) -> list[ev.Effect]:
        """The tool's result: the engine creates the output right after its call."""
        self.responses.tool_ended(call_id)
        call = self._call(call_id)
        if self.followups.has_output(call_id):
            return [ev.Notice(f"second output for {call_id} dropped"), *self.flush(now)]
        if call is None:
            why = f"output for {call_id} discarded: its call is gone from the conversation"
            return [ev.OutputFailed(call_id, output, CALL_GONE, why), *self.flush(now)]
        out = FunctionCallOutput(id=self.ids.new("out"), call_id=call_id, output=output)
        op = self.plan("create", now, item=out, item_id=out.id, after=call.id)
        self.followups.output_planned(call_id, out.id, op.event_id)
        return self.flush(now)

    def tool_abandoned(self, call_id: str, now: float, *, delete: bool = True) -> list[ev.Effect]:
        """The runner gave up a call: delete it (ABANDON), or answer it with an error."""
        started = call_id in self.responses.tools_started
        self.responses.tool_ended(call_id)
        call = self._call(call_id)
        if call is None:
            return self.flush(now)
        if delete and not started:
            self.plan("delete", now, item_id=call.id, reason=DeleteReason.ABANDON)
            return [ev.CallAbandoned(call_id, True), *self.flush(now)]
        return [
            ev.CallAbandoned(call_id, False),
            *self.tool_finished(call_id, '{"error": "the tool call was abandoned"}', now),
        ]

    def update_session(
        self, fields: Mapping[str, Any], now: float, *, configuration: bool = False
    ) -> tuple[str, list[ev.Effect]]:
        """``session.update`` with ``fields``, an op of the ledger (engine/configure.py);
        ``configuration``: a new connection's, answering the updates a drop carried."""
        op = plan_update(self, fields, now, configuration=configuration)
        return op.event_id, self.flush(now)

    def tick(self, now: float) -> list[ev.Effect]:
        """Time passes: sent ops past the timeout resolve as unknown (settled later)."""
        effects: list[ev.Effect] = []
        for op in self.ledger.open_ops():
            overdue = op.sent_at is not None and now - op.sent_at > self.config.op_timeout
            if op.state is OpState.SENT and overdue:
                self.ledger.move(op, "timeout")
                effects.append(ev.OpResolved(op.event_id, "unknown"))
                if op.kind == "retrieve":
                    self.doubts.settled(op.event_id)  # unanswered: judged present
        return effects + self.flush(now)

    # -- the connection -----------------------------------------------------------------

    def connection_lost(self, now: float) -> list[ev.Effect]:
        """The socket dropped: keep the projected state; pending ops wait for the restore."""
        self.connected = False
        self.doubts.forget()
        return self.reconnect.lost_connection(now)

    def drop_state(self) -> list[AtDrop]:
        return self.reconnect.drop_state()

    def resume(self, given: ResumeInput, now: float) -> list[ev.Effect]:
        """A new, empty server session for a journaled conversation (docs/journal.md):
        restore ``given`` as a reconnect restores its drop; ends with :class:`Resumed`."""
        seed(self, given)
        return self.connected_again(now)

    def connected_again(self, now: float) -> list[ev.Effect]:
        """A new, empty server session: restore the projected state of the drop."""
        self.connected = True
        return self.reconnect.again(now) + self.finish_pushes()

    # -- server inputs ------------------------------------------------------------------

    def receive(self, event: ev.ServerInput, now: float) -> list[ev.Effect]:
        handler = HANDLERS.get(type(event))
        if handler is None:
            return [ev.Notice(f"ignored server input {type(event).__name__}")]
        effects = handler(self, event, now)
        self.ledger.bump()
        effects.extend(self.flush(now))
        effects.extend(self.finish_pushes())
        effects.extend(self.reconnect.maybe_done(now))
        effects.extend(self.finish_pushes())
        self.ledger.forget_done()
        self.pruner.at_quiet(self)
        return effects

    def operation_answered(self, error: ev.ServerError) -> ev.Refusal | None:
        """The operation ``error`` answers (by event id, else by order and type), read
        before the error is received: what a shell tells the application was refused."""
        op = answered_op(self, error)
        if op is None or not op.open:
            return None
        item = op.item
        call_id = item.call_id if isinstance(item, FunctionCall | FunctionCallOutput) else None
        return ev.Refusal(op.event_id, op.kind, op.item_id, call_id)

    def retrying(self, event_id: str) -> bool:
        """Asked right after a refusal was received: the operation is still open, so it
        was (or will be) sent again instead of failing."""
        op = self.ledger.ops.get(event_id)
        return op is not None and op.open

    # -- the parts' shared services -----------------------------------------------------

    def plan(
        self,
        kind: OpKind,
        now: float,
        *,
        event_id: str | None = None,
        push_id: str | None = None,
        item: Item | None = None,
        item_id: str | None = None,
        after: str | None = None,
        replaces: str | None = None,
        reason: DeleteReason | None = None,
        partner_of: str | None = None,
        played_ms: int | None = None,
        audio_end_ms: int | None = None,
        response: ev.CreateResponse | None = None,
        server_vad: bool | None = None,
        fields: dict[str, Any] | None = None,
        answers: tuple[str, ...] = (),
    ) -> Op:
        """Record an operation to send when the scheduler lets it go."""
        return self.ledger.add(
            Op(
                event_id or self.ids.new("evt"),
                kind,
                self.ledger.next_seq(),
                push_id=push_id,
                item=item,
                item_id=item_id,
                after=after,
                replaces=replaces,
                reason=reason,
                partner_of=partner_of,
                played_ms=played_ms,
                audio_end_ms=audio_end_ms,
                response=response,
                server_vad=server_vad,
                fields=fields,
                answers=answers,
                planned_at=now,
            )
        )

    def flush(self, now: float) -> list[ev.Effect]:
        """Send whatever the scheduler allows now."""
        if not self.connected or not self.ledger.has_waiting():
            return []
        decision = self.scheduler.decide()
        effects: list[ev.Effect] = []
        for op in decision.moot:
            effects.extend(self.resolve(op, "success"))
        for op in decision.newly_deferred:
            self.ledger.defer(op)
        for op, previous in decision.send:
            self.ledger.move(op, "send")
            op.sent_at = now
            op.sent_previous = previous
            op.sent_order = self.ledger.next_seq()
            inband = op.kind == "response" and op.response and not op.response.out_of_band
            if inband:
                self.responses.move("request")
                self.responses.requested_event = op.event_id
            effects.append(send_effect(op, previous))
            if inband:
                self.doubt_cut(now)  # its retrieves go once the response has started
        return effects

    # -- truncation by the server (engine/eviction.py) ----------------------------------

    def set_truncation(self, truncation: Truncation) -> None:
        """The session's ``truncation`` as the server applies it (the shell says)."""
        self.doubts.truncation = truncation

    def doubt_cut(self, now: float, oldest: bool = False) -> None:
        """Plan a retrieve of each item a response starting now could make the server
        drop (``oldest``: at least the oldest item), so no op names it before the
        server has said it is there; the scheduler sends them once it has started."""
        items = self.mirror.items()
        ids = self.doubts.may_cut(items, self.in_flight)
        if oldest and items and items[0].id not in self.doubts.doubtful and not ids:
            ids = [items[0].id]
        ops = [self.plan("retrieve", now, item_id=i) for i in ids]
        self.doubts.doubt(ids, (op.event_id for op in ops))

    def resolve(
        self,
        op: Op | None,
        status: ev.Resolution,
        code: str | None = None,
        message: str | None = None,
        *,
        answered_by: str | None = None,
    ) -> list[ev.Effect]:
        """Resolve ``op`` exactly once (a second resolution is ignored)."""
        if op is None or not op.open:
            return []
        self.ledger.move(op, "resolve")
        if op.kind == "create" and self._replies_awaiting:
            self._landed(op.event_id)
        if status in ("error", "failure") and op.kind == "create" and op.item_id is not None:
            self.ledger.failed_after[op.item_id] = op.after
        if status == "error" and op.push_id is not None and op.item_id is not None:
            state = self.ledger.pushes.get(op.push_id)
            if state is not None:
                state.failed += ((op.item_id, code or "error"),)
        resolved: list[ev.Effect] = [ev.OpResolved(op.event_id, status, code, message, answered_by)]
        for carried in op.answers:  # a configuration answers the updates it carried
            resolved.extend(self.resolve(self.ledger.ops.get(carried), status, code, message))
        return resolved

    def _landed(self, create_event_id: str) -> None:
        """A create a plain reply waited for resolved: once none is left, the reply knows
        what it answers (everything landed up to now)."""
        for event_id in list(self._replies_awaiting):
            reply = self.ledger.ops.get(event_id)
            if reply is None or not reply.open:
                self._replies_awaiting.discard(event_id)
                continue
            if reply.awaits is not None:
                reply.awaits.discard(create_event_id)
            if not reply.awaits:
                reply.answers_upto = self.responses.landed_counter
                self._replies_awaiting.discard(event_id)

    def finish_pushes(self) -> list[ev.Effect]:
        """Report every push whose operations are all resolved or deferred."""
        if not self.ledger.pushes:
            return []  # the usual case, twice per server event
        return list(self.ledger.finished_pushes())

    def in_flight(self, item_id: str) -> bool:
        item = self.mirror.get(item_id)
        if isinstance(item, McpApprovalRequest):  # few: only these read the conversation
            creates = [op.item for op in self.ledger.open_ops() if op.kind == "create" and op.item]
            if approval_open(item, (*self.mirror.items(), *creates)):
                return True
        return self.responses.in_flight(item, item_id)

    def remember_audio(self, item: Item) -> None:
        """Keep assistant audio's transcript and length: the server drops the transcript
        of a truncated item, and a restore needs both to cut it where it was heard."""
        spoken = isinstance(item, Message) and item.role == "assistant" and item.audio
        if spoken and item.id not in self.heard:
            self.audio_seen[item.id] = (item.text, item.audio_ms)  # type: ignore[union-attr]

    def output_landed(self, event_id: str, output: FunctionCallOutput, now: float) -> None:
        call = self._call(output.call_id)
        owner = self.responses.item_owner.get(call.id) if call is not None else None
        if self.followups.output_landed(event_id, owner, self.responses.inband_counter):
            assert owner is not None
            self.follow_up_if_due(owner, now)

    def follow_up_if_due(self, response_id: str, now: float) -> None:
        landed = self.followups.due(
            self.responses.by_id.get(response_id),
            self.mirror.__contains__,
            self.responses.inband_counter,
            once=self.config.rules.follow_up_once,
        )
        if landed is not None:
            self._plan_response(now, answers_upto=landed)

    def follow_up_after_restore(self, now: float) -> None:
        """A conversation restored ending in tool outputs has not been answered (the
        follow-up was lost with the connection, or never asked): ask once. So does a
        resumed one whose reply was owed, unless the assistant has the last word."""
        items = self.mirror.items()
        tail = [i for i in items if not (isinstance(i, Message) and i.role == "system")]
        owed, self.reconnect.owed_reply = self.reconnect.owed_reply, False
        last = tail[-1] if tail else None
        answered = isinstance(last, Message) and last.role == "assistant"
        tool_outputs = isinstance(last, FunctionCallOutput) and self.followups.has_output(
            last.call_id
        )
        if tool_outputs or (owed and last is not None and not answered):
            self.followups.answered.update(self.responses.by_id)
            self._plan_response(now)

    def output_refused(self, op: Op, code: str | None, message: str) -> list[ev.Effect]:
        """A tool output's create failed for good: the application hears which call is
        left unanswered, and may answer it again."""
        item = op.item
        if not isinstance(item, FunctionCallOutput) or not self.followups.is_output(item.id):
            return []
        self.followups.forget_call(item.call_id)
        return [ev.OutputFailed(item.call_id, item.output, code, message)]

    def fail_outputs_of(self, call_id: str) -> list[ev.Effect]:
        """R7: a refused call create fails its output's create too."""
        effects: list[ev.Effect] = []
        for other in self.ledger.waiting():
            if isinstance(other.item, FunctionCallOutput) and other.item.call_id == call_id:
                effects.extend(
                    self.resolve(other, "failure", message=f"its call {call_id} was refused")
                )
        return effects

    # -- internals ----------------------------------------------------------------------

    def _known_deleted(self, item_id: str) -> bool:
        """Deleted on the server, or its delete already sent: a push built from scratch
        never brings it back (found by the explorer, R20: such a push re-created an item
        while its delete was unacknowledged, and did not once it was acknowledged)."""
        if self.mirror.was_deleted(item_id):
            return True
        op = self.ledger.find_open("delete", item_id)
        return op is not None and op.state is not OpState.WAITING

    def _retractable(self, item_id: str) -> bool:
        op = self.ledger.find_open("delete", item_id)
        return op is not None and op.state is OpState.WAITING and item_id in self.mirror

    def _retract(self, item_id: str) -> list[ev.Effect]:
        """A writer put back an item whose delete was still deferred: drop the delete."""
        op = self.ledger.find_open("delete", item_id)
        if op is None or op.state is not OpState.WAITING:
            return []
        self.ledger.move(op, "retract")
        return [ev.OpResolved(op.event_id, "moot", message="retracted by a later push")]

    def _call(self, call_id: str) -> FunctionCall | None:
        for item in self.ledger.projected(self.mirror):
            if isinstance(item, FunctionCall) and item.call_id == call_id:
                return item
        return None
