"""SyncEngine: the facade that wires mirror, merge, ledger, scheduler, responses, restore.

Sans-I/O, like h11's ``Connection``: every input method takes ``now`` and returns the
effects it causes (client operations to send, resolutions, reports); nothing here
touches a socket, a task or a clock. The shell (``session.py``) sends what it is told
and feeds back what arrives; tests feed the simulator's store instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from accord.engine import events as ev
from accord.engine.ledger import Ledger, Op, OpKind, OpState
from accord.engine.merge import MergeInput, Rules, merge
from accord.engine.mirror import Mirror
from accord.engine.responses import Responses
from accord.engine.restore import AtDrop, plan_restore
from accord.engine.scheduler import Capabilities, Scheduler
from accord.ids import IdAliases, IdGenerator
from accord.items import ChatContext, ContextBase, FunctionCall, FunctionCallOutput, Item, Message
from accord.provenance import DeleteReason

TAG = "accord_event"  # response metadata key carrying the request's event id

BUSY = "conversation_already_has_active_response"
CANCEL_NOT_ACTIVE = "response_cancel_not_active"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    op_timeout: float = 15.0  # seconds before a sent op resolves as "unknown"
    server_vad: bool = False  # turn detection configured: switched off during a restore
    rules: Rules = field(default_factory=Rules)
    capabilities: Capabilities = field(default_factory=Capabilities)


class SyncEngine:
    """Keeps the client's view and the server's conversation in agreement."""

    def __init__(self, config: EngineConfig | None = None, *, seed: int | None = 0) -> None:
        self.config = config or EngineConfig()
        self.ids = IdGenerator(seed, prefix="acc")
        self.wire_ids = IdAliases(IdGenerator(None if seed is None else seed + 1, prefix="alias"))
        self.mirror = Mirror()
        self.ledger = Ledger()
        self.responses = Responses()
        self.scheduler = Scheduler(
            self.ledger,
            mirror=self.mirror,
            responses=self.responses,
            rules=self.config.rules,
            capabilities=self.config.capabilities,
            in_flight=self._in_flight,
        )
        self.connected = True
        self.ever_connected = False
        self._audio: dict[str, tuple[str, int | None]] = {}  # id -> (transcript, full ms)
        self._heard: dict[str, int] = {}  # truncated assistant audio -> audio_end_ms
        self._calls_ready: set[str] = set()
        self._outputs: dict[str, str] = {}  # call id -> output item id (created by us)
        self._followups: dict[str, int] = {}  # response id -> counter when outputs landed
        self._at_drop: list[AtDrop] | None = None
        self._restore_ops: set[str] = set()
        self._restoring = False
        self._drop_ids: set[str] = set()
        self._restore_lost: tuple[str, ...] = ()
        self._snapshot_cache: tuple[int, ContextBase] | None = None

    # -- reading ------------------------------------------------------------------------

    def context(self) -> ChatContext:
        """The projected conversation as a context carrying its base (this version)."""
        version = self.ledger.version
        if self._snapshot_cache is None or self._snapshot_cache[0] != version:
            items = tuple(self._local(item) for item in self.ledger.projected(self.mirror))
            self._snapshot_cache = (version, ContextBase(version, items))
        base = self._snapshot_cache[1]
        return ChatContext(base.items, base=base)

    def mirror_items(self) -> list[Item]:
        return self.mirror.items()

    def is_quiet(self) -> bool:
        """No open op, no response, no item in flight, no running tool."""
        return (
            not any(op.open for op in self.ledger.ops.values())
            and not self.responses.inband_busy()
            and not any(not info.done for info in self.responses.by_id.values())
            and not self.responses.tools_running
            and not self.responses.awaiting_transcript
        )

    def aliases(self) -> dict[str, str]:
        return dict(self.ledger.aliases)

    # -- local inputs -------------------------------------------------------------------

    def push(
        self, ctx: ChatContext, now: float, *, explicit_replace: bool = False
    ) -> tuple[str, list[ev.Effect]]:
        """Merge ``ctx`` (with its base) into the projected state and plan the ops."""
        push_id = self.ids.new("push")
        base = None if ctx.base is None else [self._wire(item) for item in ctx.base.items]
        plan = merge(
            MergeInput(
                base=base,
                desired=[self._wire(item) for item in ctx.items],
                projected=self.ledger.projected(self.mirror),
                aliases=self.ledger.aliases,
                known_deleted=self.mirror.was_deleted,
                in_flight=self._in_flight,
                new_id=lambda _item: self.ids.new("acc"),
                explicit_replace=explicit_replace,
                rules=self.config.rules,
            )
        )
        state = self.ledger.push_state(push_id)
        state.failed.extend(plan.failed)
        state.notes.extend(plan.notes)
        state.notes.extend(self._capability_notes(plan.creates, plan.removals))
        state.aliased.extend(plan.aliases.items())
        self.ledger.aliases.update(plan.aliases)
        for create in plan.creates:
            self._plan(
                "create",
                now,
                push_id=push_id,
                item=create.item,
                item_id=create.item.id,
                after=create.after,
                replaces=create.replaces,
            )
        for removal in plan.removals:
            self._plan(
                "delete",
                now,
                push_id=push_id,
                item_id=removal.item_id,
                reason=removal.reason,
                partner_of=removal.partner_of,
            )
        effects = self._flush(now)
        effects.extend(self._finish_pushes())
        self.ledger.forget_done()
        return push_id, effects

    def generate_reply(
        self,
        now: float,
        *,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input_items: tuple[str, ...] = (),
    ) -> tuple[str, list[ev.Effect]]:
        """Ask for a response through the slot (in-band) or beside it (out-of-band)."""
        event_id = self._plan_response(now, instructions, out_of_band, metadata, input_items)
        return event_id, self._flush(now)

    def _plan_response(
        self,
        now: float,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input_items: tuple[str, ...] = (),
        *,
        follow_up_of: int | None = None,
    ) -> str:
        event_id = self.ids.new("evt")
        tagged = {**(metadata or {}), TAG: event_id}
        request = ev.CreateResponse(event_id, out_of_band, instructions, tagged, input_items)
        op = self._plan("response", now, event_id=event_id, response=request)
        op.follow_up_of = follow_up_of
        return event_id

    def interrupt(
        self, now: float, *, item_id: str | None = None, played_ms: int | None = None
    ) -> list[ev.Effect]:
        """Barge-in: cancel the in-band response, then truncate what was played of
        ``item_id`` or delete it when nothing was played."""
        notes: list[ev.Effect] = []
        if self.responses.inband_busy():
            self._plan("cancel", now)
        if item_id is not None and played_ms is not None:
            if played_ms <= 0:
                self._plan(
                    "delete", now, item_id=item_id, reason=DeleteReason.INTERRUPTION, played_ms=0
                )
            elif self.config.capabilities.can_truncate:
                self._plan(
                    "truncate", now, item_id=item_id, audio_end_ms=played_ms, played_ms=played_ms
                )
            else:
                notes.append(
                    ev.Notice(f"provider cannot truncate: {item_id} stays whole on the server")
                )
        return notes + self._flush(now)

    def tool_started(self, call_id: str, now: float) -> list[ev.Effect]:
        self.responses.tool_started(call_id)
        return self._flush(now)

    def tool_finished(self, call_id: str, output: str, now: float) -> list[ev.Effect]:
        """The tool's result: the engine creates the output after its call."""
        self.responses.tool_ended(call_id)
        call = self._call(call_id)
        if call is None or call_id in self._outputs:
            return [ev.Notice(f"output for {call_id} dropped: its call is gone"), *self._flush(now)]
        out = FunctionCallOutput(id=self.ids.new("out"), call_id=call_id, output=output)
        self._outputs[call_id] = out.id
        after = self._last_of_pair_anchor(call)
        self._plan("create", now, item=out, item_id=out.id, after=after)
        return self._flush(now)

    def tool_abandoned(self, call_id: str, now: float, *, delete: bool = True) -> list[ev.Effect]:
        """The runner gave up a call: delete it (ABANDON), or answer it with an error."""
        started = call_id in self.responses.tools_started
        self.responses.tool_ended(call_id)
        call = self._call(call_id)
        if call is None:
            return self._flush(now)
        if delete and not started:
            self._plan("delete", now, item_id=call.id, reason=DeleteReason.ABANDON)
            effects = self._flush(now)
            return [ev.CallAbandoned(call_id, True), *effects]
        return [
            ev.CallAbandoned(call_id, False),
            *self.tool_finished(call_id, '{"error": "the tool call was abandoned"}', now),
        ]

    def tick(self, now: float) -> list[ev.Effect]:
        """Time passes: sent ops past the timeout resolve as unknown (settled later)."""
        effects: list[ev.Effect] = []
        for op in self.ledger.open_ops():
            overdue = op.sent_at is not None and now - op.sent_at > self.config.op_timeout
            if op.state is OpState.SENT and overdue:
                self.ledger.move(op, "timeout")
                effects.append(ev.OpResolved(op.event_id, "unknown"))
        return effects + self._flush(now)

    # -- the connection -----------------------------------------------------------------

    def connection_lost(self, now: float) -> list[ev.Effect]:
        """The socket dropped: keep the projected state; pending ops wait for the restore."""
        self.connected = False
        self._at_drop = self.drop_state()
        effects: list[ev.Effect] = []
        for op in self.ledger.open_ops():
            if op.kind in ("create", "delete", "truncate"):
                self.ledger.move(op, "drop")
            else:
                self.ledger.move(op, "drop")
                self.ledger.move(op, "resolve")
                effects.append(ev.OpResolved(op.event_id, "failure", message="connection lost"))
        return effects

    def drop_state(self) -> list[AtDrop]:
        """The projected state with what the restore needs to know of each item."""
        out: list[AtDrop] = []
        for item in self.ledger.projected(self.mirror):
            transcript, full_ms = self._audio.get(item.id, (None, None))
            out.append(
                AtDrop(
                    item,
                    partial=self.responses.partial(item.id),
                    heard_ms=self._heard.get(item.id),
                    full_transcript=transcript,
                    full_ms=full_ms,
                )
            )
        return out

    def connected_again(self, now: float) -> list[ev.Effect]:
        """A new, empty server session: restore the projected state of the drop."""
        self.connected = True
        at_drop = self._at_drop or []
        self._drop_ids = {entry.item.id for entry in at_drop}
        self._at_drop = None
        plan = plan_restore(at_drop)
        self.mirror.clear()
        self.responses.reset()
        self._restore_lost = plan.lost
        self._restoring = True
        if self.config.server_vad:
            self._plan("session", now, server_vad=False)
        previous: str | None = None
        for item in plan.items:
            if isinstance(item, FunctionCallOutput):
                after = next(
                    (
                        i.id
                        for i in plan.items
                        if isinstance(i, FunctionCall) and i.call_id == item.call_id
                    ),
                    previous,
                )
            else:
                after = previous
            op = self._plan("create", now, item=item, item_id=item.id, after=after)
            self._restore_ops.add(op.event_id)
            if not isinstance(item, FunctionCallOutput):
                previous = item.id
        for item_id, (transcript, _ms) in list(self._audio.items()):
            self._audio[item_id] = (transcript, None)
        effects = self._flush(now)
        effects.extend(self._maybe_restore_done(now))
        return effects

    # -- server inputs ------------------------------------------------------------------

    def receive(self, event: ev.ServerInput, now: float) -> list[ev.Effect]:
        handler = self._dispatch.get(type(event))
        if handler is None:
            return [ev.Notice(f"ignored server input {type(event).__name__}")]
        effects: list[ev.Effect] = handler(self, event, now)
        self.ledger.bump()
        effects.extend(self._flush(now))
        effects.extend(self._finish_pushes())
        effects.extend(self._maybe_restore_done(now))
        self.ledger.forget_done()
        return effects

    def _on_item_added(self, event: ev.ItemAdded, now: float) -> list[ev.Effect]:
        owner = self.responses.item_owner.get(event.item.id)
        if owner is not None and self.responses.by_id[owner].out_of_band:
            return []  # out-of-band items never touch the mirror (R19)
        placement = self.mirror.add(event.item, event.previous_item_id)
        effects: list[ev.Effect] = []
        if placement.anchor_was_deleted or placement.anchor_was_unknown:
            effects.append(
                ev.Notice(
                    f"{event.item.id} anchored on {event.previous_item_id}, which is gone: placed "
                    f"after {placement.previous_item_id or 'the start'}"
                )
            )
        self.responses.item_seen(event.item)
        self._remember_audio(event.item)
        op = self._open_create(event.item.id)
        if op is not None:
            effects.extend(self._resolve(op, "success"))
            if op.event_id not in self._restore_ops:  # a restored output needs no reply
                self._on_output_landed(event.item, now)
        return effects

    def _on_item_updated(self, event: ev.ItemUpdated, now: float) -> list[ev.Effect]:
        item = event.item
        owner = self.responses.item_owner.get(item.id)
        if owner is not None and self.responses.by_id[owner].out_of_band:
            return []
        if item.id not in self.mirror:
            return []  # an update for a deleted item never resurrects it
        current = self.mirror.get(item.id)
        if isinstance(current, Message) and isinstance(item, Message) and item.id in self._heard:
            item = replace(item, content=current.content, audio_ms=current.audio_ms)
        self.mirror.update(item)
        self.responses.item_seen(item)
        self._remember_audio(item)
        effects: list[ev.Effect] = []
        if event.done:
            self.responses.done_items.add(item.id)
            if isinstance(item, FunctionCall) and item.call_id not in self._calls_ready:
                self._calls_ready.add(item.call_id)
                effects.append(ev.CallReady(item, owner))
        return effects

    def _on_item_deleted(self, event: ev.ItemDeleted, now: float) -> list[ev.Effect]:
        self.mirror.delete(event.item_id)
        op = self.ledger.find_open("delete", event.item_id)
        return self._resolve(op, "success") if op is not None else []

    def _on_item_truncated(self, event: ev.ItemTruncated, now: float) -> list[ev.Effect]:
        item = self.mirror.get(event.item_id)
        if isinstance(item, Message):
            # The server drops the transcript of a truncated item (documented).
            self.mirror.update(replace(item, content="", audio_ms=event.audio_end_ms))
            self._heard[event.item_id] = event.audio_end_ms
        op = self.ledger.find_open("truncate", event.item_id)
        return self._resolve(op, "success") if op is not None else []

    def _on_transcript(self, event: ev.TranscriptDone, now: float) -> list[ev.Effect]:
        self.responses.transcript_done(event.item_id)
        item = self.mirror.get(event.item_id)
        if item is None:
            return [ev.Notice(f"transcript for {event.item_id} ignored: the item is gone")]
        if event.transcript is not None and isinstance(item, Message):
            self.mirror.update(replace(item, content=event.transcript))
        return []

    def _on_response_created(self, event: ev.ResponseCreated, now: float) -> list[ev.Effect]:
        self.responses.created(event.response_id, event.out_of_band)
        tag = event.metadata.get(TAG)
        op = self.ledger.ops.get(tag) if tag else None
        if op is not None and op.open and op.kind == "response":
            return self._resolve(op, "success")
        return []

    def _on_output_item(self, event: ev.OutputItemAdded, now: float) -> list[ev.Effect]:
        self.responses.output_item(event.response_id, event.item_id)
        return []

    def _on_response_done(self, event: ev.ResponseDone, now: float) -> list[ev.Effect]:
        info = self.responses.done(event.response_id, event.status)
        effects: list[ev.Effect] = []
        for op in self.ledger.open_ops():
            if op.kind == "cancel" and op.state is not OpState.WAITING:
                effects.extend(self._resolve(op, "success"))
        if info is None or info.out_of_band:
            return effects
        if event.status != "completed":
            # Calls of a cancelled or incomplete response that never started are no
            # longer in flight: the runner abandons them (tool_abandoned).
            effects.extend(
                ev.CallOrphaned(call_id, event.response_id)
                for call_id in info.calls
                if call_id not in self.responses.tools_started
            )
        self._maybe_follow_up(event.response_id, now)
        return effects

    def _on_error(self, event: ev.ServerError, now: float) -> list[ev.Effect]:
        op = self.ledger.ops.get(event.event_id) if event.event_id else None
        if op is None and event.code == BUSY:
            op = next(
                (
                    o
                    for o in self.ledger.open_ops()
                    if o.kind == "response" and o.state is OpState.SENT
                ),
                None,
            )
        if op is None or not op.open:
            return [ev.Notice(f"server error {event.code}: {event.message}")]
        if op.kind == "response" and event.code == BUSY:
            self.responses.move("refused")
            landed = op.follow_up_of
            if landed is not None and self.responses.counter > landed:
                # R14: the response that refused us started after the outputs landed,
                # so it already sees them: the follow-up is dropped, not repeated.
                return self._resolve(op, "moot")
            self.ledger.move(op, "requeue")  # R14: retry after the running response
            return []
        if op.kind == "cancel" and event.code == CANCEL_NOT_ACTIVE:
            return self._resolve(op, "success")  # R15: cancel is idempotent
        if op.kind == "truncate" and op.item_id not in self.mirror:
            return self._resolve(op, "moot")
        if op.kind == "delete" and op.item_id is not None:
            self.mirror.delete(op.item_id)
            return self._resolve(op, "moot")
        if op.kind == "response":
            self.responses.move("refused")
        effects = self._resolve(op, "error", event.code, event.message)
        if op.kind == "create" and isinstance(op.item, FunctionCall):
            effects.extend(self._fail_outputs_of(op.item.call_id))  # R7: the pair fails
        return effects

    def _fail_outputs_of(self, call_id: str) -> list[ev.Effect]:
        effects: list[ev.Effect] = []
        for other in self.ledger.open_ops():
            if (
                other.kind == "create"
                and other.state is OpState.WAITING
                and isinstance(other.item, FunctionCallOutput)
                and other.item.call_id == call_id
            ):
                effects.extend(
                    self._resolve(other, "failure", message=f"its call {call_id} was refused")
                )
        return effects

    def _on_session_updated(self, event: ev.SessionUpdated, now: float) -> list[ev.Effect]:
        op = self.ledger.ops.get(event.event_id) if event.event_id else None
        return self._resolve(op, "success") if op is not None and op.open else []

    _dispatch: ClassVar[
        dict[type, Callable[[SyncEngine, ev.ServerInput, float], list[ev.Effect]]]
    ] = {
        ev.ItemAdded: _on_item_added,  # type: ignore[dict-item]
        ev.ItemUpdated: _on_item_updated,  # type: ignore[dict-item]
        ev.ItemDeleted: _on_item_deleted,  # type: ignore[dict-item]
        ev.ItemTruncated: _on_item_truncated,  # type: ignore[dict-item]
        ev.TranscriptDone: _on_transcript,  # type: ignore[dict-item]
        ev.ResponseCreated: _on_response_created,  # type: ignore[dict-item]
        ev.OutputItemAdded: _on_output_item,  # type: ignore[dict-item]
        ev.ResponseDone: _on_response_done,  # type: ignore[dict-item]
        ev.ServerError: _on_error,  # type: ignore[dict-item]
        ev.SessionUpdated: _on_session_updated,  # type: ignore[dict-item]
    }

    # -- internals ----------------------------------------------------------------------

    def _plan(
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
    ) -> Op:
        op = Op(
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
            planned_at=now,
        )
        self.ledger.add(op)
        if op.push_id is not None:
            self.ledger.pushes[op.push_id].ops.append(op.event_id)
        return op

    def _flush(self, now: float) -> list[ev.Effect]:
        if not self.connected:
            return []
        decision = self.scheduler.decide()
        effects: list[ev.Effect] = []
        for op in decision.moot:
            effects.extend(self._resolve(op, "success"))
        for op, previous in decision.send:
            self.ledger.move(op, "send")
            op.sent_at = now
            if op.kind == "response" and op.response and not op.response.out_of_band:
                self.responses.move("request")
                self.responses.requested_event = op.event_id
            effects.append(self._send_effect(op, previous))
        return effects

    def _send_effect(self, op: Op, previous: str | None) -> ev.Send:
        wire: ev.ClientOp
        if op.kind == "create":
            assert op.item is not None
            wire = ev.CreateItem(op.event_id, op.item, previous)
        elif op.kind == "delete":
            assert op.item_id is not None
            wire = ev.DeleteItem(op.event_id, op.item_id)
        elif op.kind == "truncate":
            assert op.item_id is not None and op.audio_end_ms is not None
            wire = ev.TruncateItem(op.event_id, op.item_id, op.audio_end_ms)
        elif op.kind == "response":
            assert op.response is not None
            wire = op.response
        elif op.kind == "cancel":
            wire = ev.CancelResponse(op.event_id, None)
        else:
            wire = ev.UpdateSession(op.event_id, bool(op.server_vad))
        return ev.Send(wire, op.reason, op.push_id, op.partner_of, op.played_ms, op.replaces)

    def _resolve(
        self,
        op: Op | None,
        status: ev.Resolution,
        code: str | None = None,
        message: str | None = None,
    ) -> list[ev.Effect]:
        if op is None or not op.open:
            return []
        self.ledger.move(op, "resolve")
        if status == "error" and op.push_id is not None and op.item_id is not None:
            self.ledger.pushes[op.push_id].failed.append((op.item_id, code or "error"))
        return [ev.OpResolved(op.event_id, status, code, message)]

    def _finish_pushes(self) -> list[ev.Effect]:
        effects: list[ev.Effect] = []
        for push_id, state in list(self.ledger.pushes.items()):
            ops = [self.ledger.ops[e] for e in state.ops if e in self.ledger.ops]
            if any(op.open and not op.deferred for op in ops):
                continue
            del self.ledger.pushes[push_id]
            effects.append(
                ev.PushDone(
                    ev.PushReport(
                        push_id,
                        sent=tuple(op.event_id for op in ops if op.sent_at is not None),
                        deferred=tuple(op.item_id or "" for op in ops if op.deferred),
                        failed=tuple(state.failed),
                        aliased=tuple(state.aliased),
                        notes=tuple(state.notes),
                    )
                )
            )
        return effects

    def _capability_notes(self, creates: Sequence[object], removals: Sequence[object]) -> list[str]:
        """What a provider with fewer capabilities does instead (shared/PROTOCOL-NOTES.md,
        "Other providers"), said in the push's report."""
        caps = self.config.capabilities
        notes: list[str] = []
        if removals and not caps.can_delete:
            notes.append(
                f"provider cannot delete: {len(removals)} removal(s) wait for a "
                "reconnect-and-restore (call the session's reconnect to apply them)"
            )
        if creates and not caps.can_insert_anchored:
            notes.append(f"provider is append-only: {len(creates)} item(s) appended at the end")
        return notes

    def _wire(self, item: Item) -> Item:
        """The item under ids the server accepts (R22: framework ids go through aliases)."""
        wire_id = self.wire_ids.to_wire(item.id)
        if isinstance(item, FunctionCall | FunctionCallOutput):
            call_id = self.wire_ids.to_wire(item.call_id)
            if wire_id != item.id or call_id != item.call_id:
                return replace(item, id=wire_id, call_id=call_id)
            return item
        return item if wire_id == item.id else replace(item, id=wire_id)

    def _local(self, item: Item) -> Item:
        """The item under the ids the application gave it."""
        if not len(self.wire_ids):
            return item
        local_id = self.wire_ids.to_local(item.id)
        if isinstance(item, FunctionCall | FunctionCallOutput):
            call_id = self.wire_ids.to_local(item.call_id)
            if local_id != item.id or call_id != item.call_id:
                return replace(item, id=local_id, call_id=call_id)
            return item
        return item if local_id == item.id else replace(item, id=local_id)

    def _in_flight(self, item_id: str) -> bool:
        return self.responses.in_flight(self.mirror.get(item_id), item_id)

    def _open_create(self, item_id: str) -> Op | None:
        """The open create of ``item_id`` sent on this connection (an op still waiting
        for a restore is settled by the restore, not by this ack)."""
        for op in self.ledger.ops.values():
            if (
                op.open
                and op.state is not OpState.RESTORING
                and op.kind == "create"
                and op.item is not None
                and op.item.id == item_id
            ):
                return op
        return None

    def _call(self, call_id: str) -> FunctionCall | None:
        for item in self.ledger.projected(self.mirror):
            if isinstance(item, FunctionCall) and item.call_id == call_id:
                return item
        return None

    def _last_of_pair_anchor(self, call: FunctionCall) -> str:
        """An output goes right after its call (R16: parallel calls keep their outputs
        next to them)."""
        return call.id

    def _remember_audio(self, item: Item) -> None:
        spoken = isinstance(item, Message) and item.role == "assistant" and item.audio
        if spoken and item.id not in self._heard:
            assert isinstance(item, Message)
            self._audio[item.id] = (item.text, item.audio_ms)

    def _on_output_landed(self, item: Item, now: float) -> None:
        if isinstance(item, FunctionCallOutput):
            owner = self.responses.item_owner.get(self._call_item_id(item.call_id) or "")
            if owner is not None:
                self._followups[owner] = self.responses.counter
                self._maybe_follow_up(owner, now)

    def _call_item_id(self, call_id: str) -> str | None:
        call = self._call(call_id)
        return None if call is None else call.id

    def _maybe_follow_up(self, response_id: str, now: float) -> None:
        """One follow-up per response, after all its calls have outputs on the server;
        none if a response started after the outputs landed (it already sees them)."""
        info = self.responses.by_id.get(response_id)
        if info is None or not info.done or info.status != "completed" or not info.calls:
            return
        if response_id not in self._followups:
            return
        for call_id in info.calls:
            out_id = self._outputs.get(call_id)
            if out_id is None or out_id not in self.mirror:
                return
        landed_at = self._followups.pop(response_id)
        if self.responses.counter > landed_at:
            return  # R14: a later response already sees the outputs
        self._plan_response(now, follow_up_of=landed_at)

    def _maybe_restore_done(self, now: float) -> list[ev.Effect]:
        if not self._restoring or any(
            self.ledger.ops[e].open for e in self._restore_ops if e in self.ledger.ops
        ):
            return []
        self._restoring = False
        self._restore_ops.clear()
        effects: list[ev.Effect] = []
        for op in self.ledger.open_ops():
            if op.state is not OpState.RESTORING:
                continue
            if op.kind == "create":  # restored, or superseded by a later op at the drop
                ok = op.item_id in self.mirror or op.item_id not in self._drop_ids
            elif op.kind == "delete":
                ok = op.item_id not in self.mirror
            else:
                ok = True
            effects.extend(self._resolve(op, "success" if ok else "failure"))
        if self.config.server_vad:
            self._plan("session", now, server_vad=True)
        effects.append(ev.RestoreDone(len(self.mirror), self._restore_lost))
        return effects + self._flush(now) + self._finish_pushes()
