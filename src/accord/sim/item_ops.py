"""The conversation-item handlers of a simulated session: create, delete, retrieve,
truncate, and the acknowledgements they send.

A mixin of :class:`~accord.sim.session.SimSession` (like sim/input_audio.py), so each
concern of the session reads in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accord.items import FunctionCallOutput, Item
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    UnsupportedItemError,
    item_from_wire,
)
from accord.protocol.fast import encode_item_ack
from accord.protocol.wire_items import WireMessage
from accord.sim.config import SimConfig
from accord.sim.errors import ServerError
from accord.sim.events import EventIds, Prebuilt, added_and_done, wire_item
from accord.sim.images import image_count, without_images
from accord.sim.mcp_items import McpItem
from accord.sim.responder import ResponseRun
from accord.sim.store import ConversationStore


class ItemOps:
    """Conversation-item operations of a simulated session."""

    ids: EventIds
    store: ConversationStore
    config: SimConfig
    active: ResponseRun | None
    _last_deleted: str | None
    # User messages with image parts, as the client sent them (sim/images.py).
    images: dict[str, WireMessage]

    # Provided by the session (declared here for the type checker).
    emit: Callable[[Any], None]
    _error: Callable[[ServerError], None]
    _start_response: Callable[..., ResponseRun]

    def _emit_acks(self, item: Item, previous_item_id: str | None) -> None:
        """``conversation.item.added`` / ``.done`` for a created item, encoded directly
        (no model round trip: a push of hundreds of items is acknowledged fast)."""
        sent = self.images.get(item.id)
        if sent is not None:
            for kind in (ConversationItemAdded, ConversationItemDone):
                self.emit(
                    kind(event_id=self.ids.next(), previous_item_id=previous_item_id, item=sent)
                )
            return
        for name in ("conversation.item.added", "conversation.item.done"):
            event_id = self.ids.next()
            frame = encode_item_ack(name, event_id, previous_item_id, item)
            self.emit(Prebuilt(name, event_id, frame))

    def _on_item_create(self, event: ConversationItemCreate) -> None:
        wire = event.item
        missing_id = wire.id is None
        try:
            item = item_from_wire(
                without_images(wire).model_copy(update={"id": wire.id or "pending"})
            )
        except UnsupportedItemError as exc:
            self._error(ServerError("invalid_value", str(exc), "item", event.event_id))
            return
        outcome = self.store.create(
            item, event.previous_item_id, event_id=event.event_id, item_id_missing=missing_id
        )
        if isinstance(outcome, ServerError):
            self._error(outcome)
            return
        self.images.pop(outcome.item.id, None)
        if isinstance(wire, WireMessage) and image_count(wire):
            update = {"id": outcome.item.id, "status": "completed"}
            self.images[outcome.item.id] = wire.model_copy(update=update)
        if not isinstance(outcome.item, FunctionCallOutput):
            self._emit_acks(outcome.item, outcome.previous_item_id)
            return
        acks = added_and_done(self.ids, outcome.item, outcome.previous_item_id)
        if self.active is not None and self.config.quirks.output_ack_after_response:
            # docs/protocol-notes.md ("Seen from the real server"): a function_call_output created
            # while a response is still streaming gets its conversation.item.added only
            # after that response's output_item.done and response.done. The item is in
            # the conversation at once (the response's next item anchors after it, R16).
            self.active.deferred.extend(acks)
            return
        for ev in acks:
            self.emit(ev)
        self._after_output()

    def _after_output(self) -> None:
        if self.config.quirks.auto_response_after_output and self.active is None:
            # Seen from the real server: a response starts on its own right after a
            # function_call_output, before the client's response.create (race R14).
            self._start_response(out_of_band=False, metadata=None)

    def _on_item_delete(self, event: ConversationItemDelete) -> None:
        outcome = self.store.delete(event.item_id, event_id=event.event_id)
        if isinstance(outcome, ServerError):
            self._error(outcome)
            return
        self._last_deleted = event.item_id
        self.emit(ConversationItemDeleted(event_id=self.ids.next(), item_id=event.item_id))

    def _on_item_retrieve(self, event: ConversationItemRetrieve) -> None:
        outcome = self.store.retrieve(event.item_id, event_id=event.event_id)
        if isinstance(outcome, ServerError):
            self._error(outcome)
            return
        found = outcome.item
        if isinstance(found, McpItem):
            wire: Any = found.wire()
        else:
            wire = self.images.get(found.id) or wire_item(found)
        self.emit(ConversationItemRetrieved(event_id=self.ids.next(), item=wire))

    def _on_item_truncate(self, event: ConversationItemTruncate) -> None:
        outcome = self.store.truncate(
            event.item_id, event.content_index, event.audio_end_ms, event_id=event.event_id
        )
        if isinstance(outcome, ServerError):
            self._error(outcome)
            return
        self.emit(
            ConversationItemTruncated(
                event_id=self.ids.next(),
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        )
