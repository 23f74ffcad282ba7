"""Responses and in-flight items, from wire events and the application's tool reports.

One slot for the in-band response (the one that writes to the conversation), a set of
out-of-band responses beside it, and the rules of docs/architecture.md, "In flight": an
item is in flight from its ``conversation.item.added`` until its response's
``response.done``; a call whose tool started stays in flight until the tool finishes or
is abandoned; user audio is in flight until its transcript arrives or fails.

The response lifecycle is a table, like the operation lifecycle in :mod:`ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from accord.items import FunctionCall, Item, Message


class SlotState(Enum):
    FREE = "free"
    REQUESTED = "requested"  # our response.create is sent, response.created not yet seen
    ACTIVE = "active"  # a response is running (ours or the server's VAD)


SLOT_TRANSITIONS: dict[tuple[SlotState, str], SlotState] = {
    (SlotState.FREE, "request"): SlotState.REQUESTED,
    (SlotState.FREE, "created"): SlotState.ACTIVE,  # the server's VAD started one
    (SlotState.REQUESTED, "created"): SlotState.ACTIVE,
    (SlotState.REQUESTED, "refused"): SlotState.FREE,  # busy error: another response runs
    (SlotState.REQUESTED, "done"): SlotState.FREE,
    (SlotState.ACTIVE, "created"): SlotState.ACTIVE,  # ours arrived after a VAD one
    (SlotState.ACTIVE, "done"): SlotState.FREE,
    (SlotState.ACTIVE, "request"): SlotState.ACTIVE,
    (SlotState.FREE, "done"): SlotState.FREE,
    (SlotState.REQUESTED, "request"): SlotState.REQUESTED,
    (SlotState.FREE, "refused"): SlotState.FREE,
    (SlotState.ACTIVE, "refused"): SlotState.ACTIVE,
}


@dataclass
class ResponseInfo:
    response_id: str
    out_of_band: bool
    started_at: int  # the engine's event counter when response.created arrived
    items: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # call ids
    done: bool = False
    status: str | None = None


@dataclass
class Responses:
    """In-band slot, out-of-band set, item ownership and tool state."""

    slot: SlotState = SlotState.FREE
    active_id: str | None = None
    requested_event: str | None = None
    by_id: dict[str, ResponseInfo] = field(default_factory=dict)
    item_owner: dict[str, str] = field(default_factory=dict)
    done_items: set[str] = field(default_factory=set)
    awaiting_transcript: set[str] = field(default_factory=set)
    tools_running: set[str] = field(default_factory=set)
    tools_started: set[str] = field(default_factory=set)
    tools_ended: set[str] = field(default_factory=set)
    counter: int = 0
    inband_counter: int = 0  # in-band responses seen: what R14's "started after" counts
    oob_refs: dict[str, frozenset[str]] = field(default_factory=dict)  # request -> item ids
    oob_request_of: dict[str, str] = field(default_factory=dict)  # response id -> request
    # A busy refusal arrived before the refusing response's response.created: the slot
    # is taken by a response not seen yet (R14), until the next in-band response.created.
    refuser_unseen: bool = False
    # inband_counter when an item last landed in the conversation: a plain reply asked
    # for now answers up to here (see Op.answers_upto).
    landed_counter: int = 0

    def move(self, action: str) -> None:
        self.slot = SLOT_TRANSITIONS[(self.slot, action)]

    # -- wire events --------------------------------------------------------------------

    def created(
        self, response_id: str, out_of_band: bool, request: str | None = None
    ) -> ResponseInfo:
        self.counter += 1
        info = ResponseInfo(response_id, out_of_band, self.counter)
        self.by_id[response_id] = info
        if out_of_band:
            if request is not None:
                self.oob_request_of[response_id] = request
        else:
            self.inband_counter += 1
            self.move("created")
            self.active_id = response_id
            if request is not None and request == self.requested_event:
                self.requested_event = None  # ours arrived; a VAD response leaves it pending
        return info

    def refer(self, request: str, item_ids: frozenset[str]) -> None:
        """An out-of-band request reads these items: they stay until it is done (R19)."""
        if item_ids:
            self.oob_refs[request] = item_ids

    def output_item(self, response_id: str, item_id: str) -> None:
        info = self.by_id.get(response_id)
        if info is None:  # output_item.added before response.created: tolerate
            info = self.created(response_id, out_of_band=False)
        info.items.append(item_id)
        self.item_owner[item_id] = response_id

    def item_seen(self, item: Item) -> None:
        """An item landed: remember calls per response and user audio awaiting text."""
        owner = self.item_owner.get(item.id)
        if isinstance(item, FunctionCall) and owner is not None:
            calls = self.by_id[owner].calls
            if item.call_id not in calls:
                calls.append(item.call_id)
        if isinstance(item, Message) and item.role == "user" and item.audio:
            if item.content is None:
                self.awaiting_transcript.add(item.id)
            else:
                self.awaiting_transcript.discard(item.id)

    def done(self, response_id: str, status: str) -> ResponseInfo | None:
        info = self.by_id.get(response_id)
        if info is None:
            return None
        info.done, info.status = True, status
        if info.out_of_band:
            self.oob_refs.pop(self.oob_request_of.pop(response_id, ""), None)
        elif self.active_id == response_id:
            self.move("done")
            self.active_id = None
        return info

    def transcript_done(self, item_id: str) -> None:
        self.awaiting_transcript.discard(item_id)

    # -- tool reports -------------------------------------------------------------------

    def tool_started(self, call_id: str) -> None:
        self.tools_started.add(call_id)
        self.tools_running.add(call_id)

    def tool_ended(self, call_id: str) -> None:
        self.tools_running.discard(call_id)
        self.tools_ended.add(call_id)

    # -- questions ----------------------------------------------------------------------

    def in_flight(self, item: Item | None, item_id: str) -> bool:
        if item_id in self.awaiting_transcript:
            return True
        if any(item_id in refs for refs in self.oob_refs.values()):
            return True
        owner = self.item_owner.get(item_id)
        if owner is not None and not self.by_id[owner].done:
            return True
        return isinstance(item, FunctionCall) and item.call_id in self.tools_running

    def inband_busy(self) -> bool:
        return self.slot is not SlotState.FREE or self.refuser_unseen

    def inband_running(self) -> bool:
        """A response that writes to the conversation has said response.created and not
        yet response.done: the only time a cancel has something to cancel."""
        return self.slot is SlotState.ACTIVE

    def partial(self, item_id: str) -> bool:
        """Still being generated: its response runs and the item is not done."""
        owner = self.item_owner.get(item_id)
        return owner is not None and not self.by_id[owner].done and item_id not in self.done_items

    def reset(self) -> None:
        """A new server session: no response runs there."""
        self.slot, self.active_id, self.requested_event = SlotState.FREE, None, None
        self.refuser_unseen = False
        for info in self.by_id.values():
            if not info.done:
                # Its complete calls were restored: their outputs still get a follow-up.
                info.done, info.status = True, "completed"
        self.awaiting_transcript.clear()
        self.oob_refs.clear()
        self.oob_request_of.clear()
