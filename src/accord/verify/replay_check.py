"""The checker over a replayed trace: the server's conversation rebuilt from what it said.

A trace holds no server state, only the frames the server sent. This module rebuilds a
:class:`~accord.sim.store.ConversationStore` from them, in order, attributing each
client-confirmed create and delete to the client operation (its ``event_id``) that
caused it, and each server item to its response or to committed user audio; the
replaying core's decisions (pushes with their bases, operations with their reasons,
tool reports) go into the checker's log as they are made. Invariants 1, 2 and 4 are then
judged over the whole trace, and convergence and resolutions when the trace ends quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.items import Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemDone,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    RemoteProtocolError,
    ResponseDone,
    ResponseOutputItemAdded,
    UnsupportedItemError,
    item_from_wire,
    parse_client_event,
    parse_server_event,
)
from accord.protocol.client_events import ConversationItemCreate, ConversationItemDelete
from accord.protocol.codec import UnknownEvent
from accord.sim.store import ConversationStore
from accord.verify.checker import Violation, check_no_lost_item, check_quiet, check_transition
from accord.verify.log import CheckLog


@dataclass
class ServerRebuild:
    """The server's conversation as its frames describe it."""

    store: ConversationStore = field(default_factory=ConversationStore)
    creates: dict[str, str] = field(default_factory=dict)  # item id -> client event id
    deletes: dict[str, str] = field(default_factory=dict)  # item id -> client event id
    owner: dict[str, str] = field(default_factory=dict)  # item id -> response id

    def client_frame(self, frame: str) -> None:
        try:
            event = parse_client_event(frame)
        except RemoteProtocolError:
            return
        if isinstance(event, ConversationItemCreate) and event.item.id and event.event_id:
            self.creates[event.item.id] = event.event_id
        elif isinstance(event, ConversationItemDelete) and event.event_id:
            self.deletes[event.item_id] = event.event_id

    def server_frame(self, frame: str) -> None:
        try:
            event = parse_server_event(frame)
        except RemoteProtocolError:
            return
        if isinstance(event, UnknownEvent):
            return
        if isinstance(event, ResponseOutputItemAdded) and event.item.id:
            self.owner[event.item.id] = event.response_id
        elif isinstance(event, ConversationItemAdded):
            self._added(event)
        elif isinstance(event, ConversationItemDone):
            self._update(event)
        elif isinstance(event, ConversationItemDeleted):
            self.store.delete(event.item_id, event_id=self.deletes.get(event.item_id))
        elif isinstance(event, InputAudioTranscriptionCompleted):
            self.store.complete_transcript(event.item_id, event.transcript)
        elif isinstance(event, InputAudioTranscriptionFailed):
            self.store.complete_transcript(event.item_id, None)
        elif isinstance(event, ResponseDone):
            self.store.finish_response(event.response.id)

    def _added(self, event: ConversationItemAdded) -> None:
        try:
            item = item_from_wire(event.item)
        except UnsupportedItemError:
            return
        if self.store.get(item.id) is not None:
            return
        if item.id in self.creates:
            self.store.create(
                item, event.previous_item_id or "root", event_id=self.creates[item.id]
            )
        elif item.id in self.owner:
            after = event.previous_item_id
            known = after is not None and self.store.record(after) is not None
            self.store.add_output_item(item, self.owner[item.id], after=after if known else None)
        elif isinstance(item, Message) and item.audio and item.role == "user":
            self.store.add_user_audio(item.id)

    def _update(self, event: ConversationItemDone) -> None:
        try:
            item = item_from_wire(event.item)
        except UnsupportedItemError:
            return
        if item.id in self.owner:
            self.store.update_output_item(item)


def judge(
    rebuild: ServerRebuild, audit_log: CheckLog, mirror: Sequence[Item], quiet: bool
) -> list[Violation]:
    """Invariants over the rebuilt store and the replay's decisions (all of them when
    the trace ends quiet; otherwise those that hold at every moment)."""
    if quiet:
        return check_quiet(rebuild.store, audit_log, mirror)
    return check_no_lost_item(rebuild.store, audit_log) + check_transition(rebuild.store)
