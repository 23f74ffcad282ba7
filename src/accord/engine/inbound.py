"""What the engine does with each server input: one handler per input type, one table.

h2's rule, "when in doubt use dict-dispatch": :data:`HANDLERS` maps each input class of
:mod:`accord.engine.events` to a function of (engine, input, now). Every handler keeps
the mirror a copy of the server (never feeding it out-of-band items or retrieved
snapshots), and resolves the operation the input answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from accord.engine import events as ev
from accord.engine.configure import acknowledged
from accord.engine.events import ROOT
from accord.engine.ledger import Op, OpState
from accord.engine.state import EngineState
from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.protocol import error_codes as codes
from accord.protocol.metadata import REQUEST_TAG

Effects = list[ev.Effect]


def _out_of_band_item(eng: EngineState, item_id: str) -> bool:
    owner = eng.responses.item_owner.get(item_id)
    return owner is not None and eng.responses.by_id[owner].out_of_band


def item_added(eng: EngineState, event: ev.ItemAdded, now: float) -> Effects:
    if _out_of_band_item(eng, event.item.id):
        return []  # out-of-band items never touch the mirror (R19)
    placement = eng.mirror.add(event.item, _previous(eng, event))
    effects: Effects = []
    if placement.anchor_was_deleted or placement.anchor_was_unknown:
        effects.append(
            ev.Notice(
                f"{event.item.id} anchored on {event.previous_item_id}, which is gone: placed "
                f"after {placement.previous_item_id or 'the start'}"
            )
        )  # R6: never dropped
    eng.responses.item_seen(event.item)
    eng.responses.landed_counter = eng.responses.inband_counter
    eng.remember_audio(event.item)
    op = eng.ledger.open_create(event.item.id)
    if op is not None:
        effects.extend(eng.resolve(op, "success"))
        if isinstance(event.item, FunctionCallOutput):
            eng.output_landed(op.event_id, event.item, now)
    return effects


def _previous(eng: EngineState, event: ev.ItemAdded) -> str | None:
    """Where the item goes. OpenAI's server names the previous item, null only for the
    first one (also after a "root" insert: our own creates go where we sent them). Other
    servers (xAI) send null for items they append: with items before it, null means the
    end, never the start."""
    previous = event.previous_item_id
    if previous is not None or len(eng.mirror) == 0:
        return previous
    own = eng.ledger.open_create(event.item.id)
    if own is not None and own.state is not OpState.WAITING:
        sent = own.sent_previous
        return None if sent in (None, ROOT) else sent
    return eng.mirror.last_id()


def item_updated(eng: EngineState, event: ev.ItemUpdated, now: float) -> Effects:
    item = event.item
    if _out_of_band_item(eng, item.id) or item.id not in eng.mirror:
        return []  # an update for a deleted item never resurrects it
    current = eng.mirror.get(item.id)
    if isinstance(current, Message) and isinstance(item, Message) and item.id in eng.heard:
        item = replace(item, content=current.content, audio_ms=current.audio_ms)
    eng.mirror.update(item)
    eng.responses.item_seen(item)
    eng.remember_audio(item)
    if event.done:
        eng.responses.done_items.add(item.id)
        if isinstance(item, FunctionCall) and item.call_id not in eng.calls_ready:
            eng.calls_ready.add(item.call_id)
            return [ev.FunctionCallReady(item, eng.responses.item_owner.get(item.id))]
    return []


def item_deleted(eng: EngineState, event: ev.ItemDeleted, now: float) -> Effects:
    item_id = event.item_id
    if not item_id:
        # xAI's server acknowledges a delete with an empty item id: it answers our
        # earliest unanswered delete (the server answers in order).
        op = eng.ledger.oldest_sent(frozenset(("delete",)))
        if op is None or op.item_id is None:
            return [ev.Notice("conversation.item.deleted without an item id ignored")]
        item_id = op.item_id
    eng.mirror.delete(item_id)
    eng.doubts.deleted_since_usage = True
    eng.responses.transcript_done(item_id)  # a deleted turn is transcribed for nobody
    return eng.resolve(eng.ledger.find_open("delete", item_id), "success")


def item_truncated(eng: EngineState, event: ev.ItemTruncated, now: float) -> Effects:
    item = eng.mirror.get(event.item_id)
    if isinstance(item, Message):
        # The server drops the transcript of a truncated item (documented).
        eng.mirror.update(replace(item, content="", audio_ms=event.audio_end_ms))
        eng.heard[event.item_id] = event.audio_end_ms
    return eng.resolve(eng.ledger.find_open("truncate", event.item_id), "success")


def item_retrieved(eng: EngineState, event: ev.ItemRetrieved, now: float) -> Effects:
    """R20: a retrieve answers with a snapshot; it is never an insert into the mirror.
    It answers the engine's probe of that item, if one is open: the item is there."""
    op = eng.ledger.find_open("retrieve", event.item.id)
    if op is None:
        return []
    eng.doubts.settled(op.event_id)
    return eng.resolve(op, "success")


def evicted(eng: EngineState, op: Op) -> Effects:
    """The server answered the engine's probe: no such item. It dropped it by itself
    (engine/eviction.py): the item leaves the mirror, nothing is sent about it."""
    item_id = eng.doubts.settled(op.event_id) or op.item_id
    effects = eng.resolve(op, "moot")
    if item_id is not None and item_id in eng.mirror:
        eng.mirror.delete(item_id)
        effects.append(ev.ItemsEvicted((item_id,)))
    return effects


def transcript(eng: EngineState, event: ev.TranscriptDone, now: float) -> Effects:
    eng.responses.transcript_done(event.item_id)
    item = eng.mirror.get(event.item_id)
    if item is None:  # R17: a transcript never resurrects a deleted item
        return [ev.Notice(f"transcript for {event.item_id} ignored: the item is gone")]
    if event.transcript is not None and isinstance(item, Message):
        eng.mirror.update(replace(item, content=event.transcript))
    return []


def response_created(eng: EngineState, event: ev.ResponseCreated, now: float) -> Effects:
    tag = event.metadata.get(REQUEST_TAG)
    refuser = not event.out_of_band and eng.responses.refuser_unseen
    eng.responses.created(event.response_id, event.out_of_band, tag)
    op = eng.ledger.ops.get(tag) if tag else None
    effects: Effects = []
    if op is not None and op.open and op.kind == "response":
        effects.extend(eng.resolve(op, "success"))
    if refuser:
        # The response that refused our in-band request before it said response.created
        # has now said it: the refused requests are judged as if it had come first.
        eng.responses.refuser_unseen = False
    if not event.out_of_band:
        effects.extend(_answered_requests(eng, event.response_id))
        if op is None:  # the server's own response (VAD): it may have cut too
            eng.doubt_cut(now)
    return effects


def _answered_requests(eng: EngineState, response_id: str) -> Effects:
    """R14: an in-band response created after everything a waiting request answers had
    landed (a follow-up's outputs, a plain reply's conversation) sees it all, so the
    request, still unsent (behind that response, or refused by it), is dropped: sent
    after it, it would answer the same things a second time. Found by ``accord stress``
    counting duplicate replies: a turn typed while the tool ran, answered by the
    follow-up, then by its own reply (and the other way round)."""
    effects: Effects = []
    once = eng.config.rules.follow_up_once
    for op in eng.ledger.waiting():
        landed = op.answers_upto
        counted = landed is not None and eng.responses.inband_counter > landed
        if op.kind == "response" and once and counted:
            effects.extend(eng.resolve(op, "moot", answered_by=response_id))
    return effects


def output_item(eng: EngineState, event: ev.OutputItemAdded, now: float) -> Effects:
    eng.responses.output_item(event.response_id, event.item_id)
    return []


def response_done(eng: EngineState, event: ev.ResponseDone, now: float) -> Effects:
    info = eng.responses.done(event.response_id, event.status)
    effects: Effects = []
    if info is None or not info.out_of_band:
        for op in eng.ledger.open_ops():
            if op.kind == "cancel" and op.state is not OpState.WAITING:
                effects.extend(eng.resolve(op, "success"))
    if info is None or info.out_of_band:
        return effects
    if eng.doubts.usage_says_dropped(event.input_tokens):
        eng.doubt_cut(now, oldest=True)  # fewer input tokens, and we deleted nothing
    if event.status != "completed":
        # Calls of a cancelled or incomplete response that never started are no longer
        # in flight: the runner abandons them (tool_abandoned).
        effects.extend(
            ev.CallOrphaned(call_id, event.response_id)
            for call_id in info.calls
            if call_id not in eng.responses.tools_started
        )
    eng.follow_up_if_due(event.response_id, now)
    return effects


def error(eng: EngineState, event: ev.ServerError, now: float) -> Effects:
    op = answered_op(eng, event)
    if op is None or not op.open:
        return [ev.Notice(f"server error {event.code}: {event.message}")]
    if op.kind == "response" and event.code == codes.BUSY:
        return _busy(eng, op)
    if op.kind == "cancel" and event.code == codes.CANCEL_NOT_ACTIVE:
        return eng.resolve(op, "success")  # R15: cancel is idempotent
    if op.kind == "truncate" and op.item_id not in eng.mirror:
        return eng.resolve(op, "moot")  # R15: truncate of a deleted item is moot
    if op.kind == "retrieve" and codes.names_a_missing_item(event.code, event.message):
        return evicted(eng, op)
    if op.kind == "delete" and event.code == codes.UNKNOWN_DELETE_ITEM:
        # The server has no such item: it is gone (another writer, or a lost ack). Any
        # other refusal leaves the item where it is, on the server and in the mirror.
        if op.item_id is not None:
            eng.mirror.delete(op.item_id)
        return eng.resolve(op, "moot")
    if op.kind == "response" and not (op.response and op.response.out_of_band):
        eng.responses.move("refused")
    if _send_again(eng, op, event):
        return [ev.Notice(f"{op.kind} {op.event_id} refused ({event.code}): sent again")]
    effects = eng.resolve(op, "error", event.code, event.message)
    if op.kind == "retrieve":
        eng.doubts.settled(op.event_id)  # no answer either way: judged present
    if op.kind == "create" and isinstance(op.item, FunctionCall):
        effects.extend(eng.fail_outputs_of(op.item.call_id))  # R7: the pair fails
    if op.kind == "create":
        effects.extend(eng.output_refused(op, event.code, event.message))
    return effects


def answered_op(eng: EngineState, event: ev.ServerError) -> Op | None:
    """The op this error answers: named by its event id, else matched by order and type
    (the busy refusal and frame-level refusals can carry no event id)."""
    if event.event_id:
        return eng.ledger.ops.get(event.event_id)
    if event.code == codes.BUSY:
        requested = eng.responses.requested_event  # R14: it answers our in-band request
        return eng.ledger.ops.get(requested) if requested else None
    kinds = codes.ANSWERS.get(event.code or "")
    if kinds is None:
        return None  # an error of the session, not an answer to one of our frames
    return eng.ledger.oldest_sent(kinds, largest=codes.is_about_size(event.message))


def _send_again(eng: EngineState, op: Op, event: ev.ServerError) -> bool:
    """A transient refusal is retried a bounded number of times; a create refused for
    an anchor that is gone is re-anchored on the nearest surviving predecessor, once."""
    if op.state is not OpState.SENT:
        return False
    if event.code in codes.TRANSIENT and op.attempts < eng.config.retries:
        op.attempts += 1
    elif (
        op.kind == "create"
        and not op.reanchored
        and codes.names_the_previous_item(event.code, event.message)
    ):
        op.reanchored = True
        gone = op.sent_previous
        if gone is not None and gone in eng.mirror:
            eng.mirror.delete(gone)  # the server says it is not in its conversation
    else:
        return False
    eng.ledger.move(op, "requeue")
    return True


def _busy(eng: EngineState, op: Op) -> Effects:
    eng.responses.move("refused")
    if not eng.responses.inband_busy():
        # The response that refused us has not said response.created yet (the real
        # server can send the refusal first): wait for it, then judge (R14).
        eng.responses.refuser_unseen = True
        eng.ledger.move(op, "requeue")
        return []
    landed = op.answers_upto
    once = eng.config.rules.follow_up_once
    if once and landed is not None and eng.responses.inband_counter > landed:
        # R14: the response that refused us started after the outputs landed, so it
        # already sees them: the follow-up is dropped, not repeated.
        return eng.resolve(op, "moot")
    eng.ledger.move(op, "requeue")  # R14: retry after the running response
    return []


def session_updated(eng: EngineState, event: ev.SessionUpdated, now: float) -> Effects:
    return eng.resolve(acknowledged(eng, event.event_id), "success")


HANDLERS: dict[type, Callable[[EngineState, Any, float], Effects]] = {
    ev.ItemAdded: item_added,
    ev.ItemUpdated: item_updated,
    ev.ItemDeleted: item_deleted,
    ev.ItemTruncated: item_truncated,
    ev.ItemRetrieved: item_retrieved,
    ev.TranscriptDone: transcript,
    ev.ResponseCreated: response_created,
    ev.OutputItemAdded: output_item,
    ev.ResponseDone: response_done,
    ev.ServerError: error,
    ev.SessionUpdated: session_updated,
}
