"""The client frame for an engine operation: the one encoder of what accord sends.

The session core sends these frames, and the explorer's pair (``accord.verify.harness``)
sends the same frames through the same function, so an exhaustive schedule tests the
encoding a real session uses. Creates, the bulk of a large push, are encoded directly
(:func:`accord.protocol.fast.encode_item_create`, byte-identical to the model, tested).
"""

from __future__ import annotations

from typing import Any

from accord.engine import events as ev
from accord.protocol import (
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ResponseCancel,
    ResponseCreate,
    ResponseParams,
    SessionUpdate,
    encode,
)
from accord.protocol.client_events import ClientEvent
from accord.protocol.fast import encode_item_create
from accord.protocol.wire_items import WireItemReference, item_to_wire


def op_frame(op: ev.ClientOp, turn_detection: Any = None) -> str:
    """The frame of ``op``; ``turn_detection`` is what the engine's own VAD toggle puts
    back when it turns detection on (the configured one, else the server's)."""
    if isinstance(op, ev.CreateItem):
        return encode_item_create(op.event_id, op.item, op.previous_item_id)
    return encode(_client_event(op, turn_detection))


def _client_event(
    op: ev.DeleteItem
    | ev.RetrieveItem
    | ev.TruncateItem
    | ev.CreateResponse
    | ev.CancelResponse
    | ev.UpdateSession,
    turn_detection: Any,
) -> ClientEvent:
    """The protocol event of any op but a create (see :func:`op_frame`)."""
    if isinstance(op, ev.DeleteItem):
        return ConversationItemDelete(event_id=op.event_id, item_id=op.item_id)
    if isinstance(op, ev.RetrieveItem):
        return ConversationItemRetrieve(event_id=op.event_id, item_id=op.item_id)
    if isinstance(op, ev.TruncateItem):
        return ConversationItemTruncate(
            event_id=op.event_id,
            item_id=op.item_id,
            content_index=op.content_index,
            audio_end_ms=op.audio_end_ms,
        )
    if isinstance(op, ev.CreateResponse):
        return ResponseCreate(
            event_id=op.event_id,
            response=ResponseParams(
                conversation="none" if op.out_of_band else None,
                instructions=op.instructions,
                metadata=op.metadata or None,
                input=tuple(
                    WireItemReference(id=i) if isinstance(i, str) else item_to_wire(i)
                    for i in op.input_items
                )
                or None,
            ),
        )
    if isinstance(op, ev.CancelResponse):
        return ResponseCancel(event_id=op.event_id, response_id=op.response_id)
    if op.fields is not None:
        return SessionUpdate(event_id=op.event_id, session={"type": "realtime", **op.fields})
    turn = turn_detection if op.server_vad else None
    return SessionUpdate(
        event_id=op.event_id,
        session={"type": "realtime", "audio": {"input": {"turn_detection": turn}}},
    )
