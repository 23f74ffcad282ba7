"""When each planned operation may go: anchors, runs, pairs, deferrals, the response slot.

docs/architecture.md, "Anchors", "Pairs", "In flight" and "Responses":
- a create anchors only on an acknowledged item; a run of new items after one anchor is
  sent in reverse, each on that same predecessor, so one round trip inserts them all;
- an output waits until its call is acknowledged;
- a delete of an item in flight (or of the tail while the in-band response runs) waits
  until the item lands; a delete of an item not yet acknowledged waits for its ack;
- a batch's creates go before its deletes;
- the engine's own in-band ``response.create`` waits for a free slot and for every
  create and delete to be acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from accord.engine import events as ev
from accord.engine.events import ROOT
from accord.engine.ledger import MAX_ANCHOR_WALK, Ledger, Op, OpState
from accord.engine.merge import Rules
from accord.engine.mirror import Mirror
from accord.engine.responses import Responses
from accord.items import FunctionCall, FunctionCallOutput


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the provider's conversation API allows (OpenAI Realtime: everything)."""

    can_delete: bool = True
    can_insert_anchored: bool = True
    can_truncate: bool = True

    def notes(self, creates: Sequence[object], removals: Sequence[object]) -> list[str]:
        """What a provider with fewer capabilities does instead (docs/protocol-notes.md,
        "Other providers"), said in the push's report."""
        notes: list[str] = []
        if removals and not self.can_delete:
            notes.append(
                f"provider cannot delete: {len(removals)} removal(s) wait for a "
                "reconnect-and-restore (call the session's reconnect to apply them)"
            )
        if creates and not self.can_insert_anchored:
            notes.append(f"provider is append-only: {len(creates)} item(s) appended at the end")
        return notes


@dataclass(slots=True)
class Decision:
    """What to send now, in order, and what resolves without sending."""

    send: list[tuple[Op, str | None]] = field(default_factory=list)  # (op, previous id)
    moot: list[Op] = field(default_factory=list)
    newly_deferred: list[Op] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        ledger: Ledger,
        *,
        mirror: Mirror,
        responses: Responses,
        rules: Rules,
        capabilities: Capabilities,
        in_flight: Callable[[str], bool],
        doubtful: Callable[[str | None], bool] = lambda _id: False,
    ) -> None:
        self.ledger = ledger
        self.mirror = mirror
        self.responses = responses
        self.rules = rules
        self.caps = capabilities
        self.in_flight = in_flight
        # An item the server may have dropped by itself (engine/eviction.py): no op names
        # it until a retrieve has said whether it is there.
        self.doubtful = doubtful

    def decide(self) -> Decision:
        decision = Decision()
        waiting = self.ledger.waiting()
        by_kind: dict[str, list[Op]] = {}
        for op in waiting:
            by_kind.setdefault(op.kind, []).append(op)
        # session.update first: a restore runs with VAD off before its creates (R21).
        decision.send.extend((op, None) for op in by_kind.get("session", ()))
        # A probe of what the server may have dropped asks once the response whose start
        # may cut has started: asked before, it could be answered before the cut.
        starting = self.responses.inband_busy() and not self.responses.inband_running()
        if not starting:
            decision.send.extend((op, None) for op in by_kind.get("retrieve", ()))
        creates = self._creates(by_kind.get("create", []))
        sending_creates = {op.event_id for op, _ in creates}
        deletes = self._deletes(
            by_kind.get("delete", []), by_kind.get("create", []), sending_creates, decision
        )
        if self.rules.creates_before_deletes:
            decision.send.extend(creates)
            decision.send.extend(deletes)
        else:
            decision.send.extend(deletes)
            decision.send.extend(creates)
        for op in waiting:
            if op.kind == "truncate":
                self._truncate(op, decision)
            elif op.kind == "cancel":
                self._cancel(op, decision)
        batch_sending = bool(creates or deletes)
        for op in by_kind.get("response", ()):
            if self._response_ready(op, batch_sending, decision):
                decision.send.append((op, None))
                if op.response is not None and not op.response.out_of_band:
                    batch_sending = True  # one in-band request per decision
        return decision

    # -- creates ------------------------------------------------------------------------

    def _creates(self, ops: list[Op]) -> list[tuple[Op, str | None]]:
        runs: dict[str, list[Op]] = {}  # run head's event id -> members in chain order
        run_of: dict[str, str] = {}  # item id -> run head event id
        prev_of_run: dict[str, str | None] = {}
        for op in sorted(ops, key=lambda o: o.seq):
            assert op.item is not None
            if not self._pair_ready(op):
                continue
            if not self.rules.acked_anchors:
                runs[op.event_id] = [op]
                prev_of_run[op.event_id] = op.after if op.after is not None else ROOT
                continue
            anchor = self._anchor(op.after)
            if isinstance(anchor, str) and self.doubtful(anchor):
                continue  # wait: the server may have dropped the anchor
            if anchor is _WAIT:
                head = run_of.get(op.after or "")
                if head is None:
                    continue
                runs[head].append(op)
                run_of[op.item.id] = head
                continue
            runs[op.event_id] = [op]
            run_of[op.item.id] = op.event_id
            prev_of_run[op.event_id] = anchor if isinstance(anchor, str) else ROOT
        out: list[tuple[Op, str | None]] = []
        for head, members in runs.items():
            prev = prev_of_run[head]
            if not self.caps.can_insert_anchored:
                prev = None
            # Reverse on one anchor; forward when each goes on its predecessor or, for an
            # append-only provider, at the end.
            backwards = self.rules.acked_anchors and self.caps.can_insert_anchored
            order = reversed(members) if backwards else iter(members)
            out.extend((op, prev) for op in order)
        return out

    def _pair_ready(self, op: Op) -> bool:
        item = op.item
        if not (self.rules.pairs and isinstance(item, FunctionCallOutput)):
            return True
        return any(
            isinstance(other, FunctionCall) and other.call_id == item.call_id
            for other in self.mirror
        )

    def _anchor(self, after: str | None) -> str | object | None:
        """The acknowledged id to anchor on (None: the start), or _WAIT."""
        seen = 0
        while after is not None and seen < MAX_ANCHOR_WALK:
            seen += 1
            if after in self.mirror:
                if self._delete_in_transit(after):
                    after = self.mirror.previous_id(after)  # R5: never anchor on it
                    continue
                return after
            if self._open_create(after):
                return _WAIT
            if after in self.ledger.failed_after:  # its create was refused: go further back
                after = self.ledger.failed_after[after]
                continue
            after = self.mirror.surviving_predecessor(after)  # R6-style re-anchor
        return None

    def _delete_in_transit(self, item_id: str) -> bool:
        op = self.ledger.find_open("delete", item_id)
        return op is not None and op.state in (OpState.SENT, OpState.UNKNOWN)

    def _open_create(self, item_id: str) -> bool:
        return self.ledger.open_create(item_id) is not None

    # -- deletes ------------------------------------------------------------------------

    def _deletes(
        self,
        ops: list[Op],
        waiting_creates: list[Op],
        sending_creates: set[str],
        decision: Decision,
    ) -> list[tuple[Op, str | None]]:
        out: list[tuple[Op, str | None]] = []
        blocked_pushes = {
            op.push_id
            for op in waiting_creates
            if op.event_id not in sending_creates and op.push_id
        }
        for op in ops:
            assert op.item_id is not None
            if self.doubtful(op.item_id):
                continue  # the server may have dropped it: a retrieve will say
            if op.item_id not in self.mirror:
                if self._open_create(op.item_id):
                    continue  # not landed yet: wait for its ack
                decision.moot.append(op)  # already gone
                continue
            if self.rules.in_flight_deferral and (
                self.in_flight(op.item_id) or self._tail_during_response(op.item_id)
            ):
                if not op.deferred:
                    decision.newly_deferred.append(op)
                continue
            if self.rules.creates_before_deletes and op.push_id in blocked_pushes:
                continue
            if not self.caps.can_delete:
                # The provider cannot delete: the removal stays in the projected state
                # and takes effect at the next reconnect-and-restore.
                if not op.deferred:
                    decision.newly_deferred.append(op)
                continue
            if self.rules.pairs and self._output_delete_pending(op):
                continue
            out.append((op, None))
        return out

    def _output_delete_pending(self, op: Op) -> bool:
        """Pairs: a call's delete waits while a delete of its output is open: unsent
        (deferred, waiting for its batch or for the output to land) or unanswered, so no
        output outlives its call on the server, even for one transition. (Sent together,
        the output's delete could be refused by ``server_error`` and sent again after
        the call's had landed: stress judged an output without its call.)"""
        call = self.mirror.get(op.item_id or "")
        if not isinstance(call, FunctionCall):
            return False
        for other in self.ledger.open_ops():
            if other.kind != "delete" or other.item_id in (None, op.item_id):
                continue
            item = self.mirror.get(other.item_id or "")
            if item is None:
                pending = self.ledger.open_create(other.item_id or "")
                item = pending.item if pending is not None else None
            if isinstance(item, FunctionCallOutput) and item.call_id == call.call_id:
                return True
        return False

    def _tail_during_response(self, item_id: str) -> bool:
        """Deleting the tail while the in-band response runs would let its next item
        anchor on a deleted one (race R6): wait for ``response.done``."""
        if not self.responses.inband_busy():  # active from response.create being sent
            return False
        nxt = self.mirror.next_id(item_id)
        while nxt is not None:
            if self.ledger.find_open("delete", nxt) is None:
                return False
            nxt = self.mirror.next_id(nxt)
        return True

    # -- truncates and responses --------------------------------------------------------

    def _truncate(self, op: Op, decision: Decision) -> None:
        assert op.item_id is not None
        if self.doubtful(op.item_id):
            return
        if op.item_id in self.mirror:
            decision.send.append((op, None))
        elif not self._open_create(op.item_id):
            decision.moot.append(op)  # R15: truncate of a deleted item is moot

    def _cancel(self, op: Op, decision: Decision) -> None:
        """Cancel only what runs: a response asked for but not yet created would ignore
        the cancel (the real server's no-op, answered response_cancel_not_active), so
        the cancel waits for response.created; with nothing asked for it is moot."""
        if self.responses.inband_running():
            decision.send.append((op, None))
        elif not self.responses.inband_busy():
            decision.moot.append(op)

    def _response_ready(self, op: Op, batch_sending: bool, decision: Decision) -> bool:
        if op.response is not None and op.response.out_of_band:
            return not any(self._open_create(item_id) for item_id in op.reads)
        if not self.rules.response_slot:
            return True
        if batch_sending or self.responses.inband_busy():
            return False
        return not self.ledger.in_transit()


_WAIT = object()


def send_effect(op: Op, previous: str | None) -> ev.Send:
    """The effect that sends ``op`` (after ``previous``, for a create), with the
    decision it came from."""
    wire: ev.ClientOp
    if op.kind == "create":
        assert op.item is not None
        wire = ev.CreateItem(op.event_id, op.item, previous)
    elif op.kind == "delete":
        assert op.item_id is not None
        wire = ev.DeleteItem(op.event_id, op.item_id)
    elif op.kind == "retrieve":
        assert op.item_id is not None
        wire = ev.RetrieveItem(op.event_id, op.item_id)
    elif op.kind == "truncate":
        assert op.item_id is not None and op.audio_end_ms is not None
        wire = ev.TruncateItem(op.event_id, op.item_id, op.audio_end_ms)
    elif op.kind == "response":
        assert op.response is not None
        wire = op.response
    elif op.kind == "cancel":
        wire = ev.CancelResponse(op.event_id, None)
    else:
        wire = ev.UpdateSession(op.event_id, bool(op.server_vad), op.fields)
    return ev.Send(wire, op.reason, op.push_id, op.partner_of, op.played_ms, op.replaces)
