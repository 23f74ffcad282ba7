"""The server's conversation semantics as a pure class: the reference everything is judged by.

:class:`ConversationStore` is what the Realtime server holds for one session: an ordered
list of items, edited by client operations (create, delete, retrieve, truncate) and by the
server itself (response output, committed user audio, transcripts). It is written from
docs/protocol-notes.md alone and shares no code with the engine's mirror, so comparing
the two compares two independent implementations.

It also keeps what a checker needs and the real server never shows: per-item provenance
(who created each item, which operation deleted it, whether it was in flight then) and a
log of every create's anchor. No I/O, no clock; the simulator server wraps it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum

from accord.ids import MAX_ID_LENGTH, IdGenerator
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim import errors
from accord.sim.errors import ServerError
from accord.sim.mcp_items import McpItem

ROOT = "root"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")  # observed: other ids get invalid_value


class Creator(Enum):
    """Who put an item in the conversation."""

    CLIENT = "client"
    RESPONSE = "response"  # a response's output item
    USER_AUDIO = "user_audio"  # committed input audio
    SERVER = "server"  # the server's own (an MCP server's tool list)


@dataclass(slots=True)
class ItemRecord:
    """One incarnation of an item id, alive or deleted, with its history."""

    seq: int  # unique per incarnation, in creation order
    created_at: int  # the store transition that created it
    item: Item
    creator: Creator
    created_by: str | None  # client event_id, or response id, or None
    response_id: str | None = None
    audio_total_ms: int | None = None  # assistant audio length before any truncation
    transcript_before_truncate: str | None = None  # what the server dropped (checkers)
    transcript_pending: bool = False  # user audio whose transcript has not arrived
    deleted_by: str | None = None  # the client event_id of the delete
    deleted_at: int | None = None  # the store transition that deleted it
    deleted_in_flight: bool = False
    pred_at_delete: AnyRecord | None = None  # what stood before it when it was deleted
    alive: bool = True
    # Dropped by the server's own truncation (sim/truncation.py), not by a client delete:
    # the transition that dropped it (``deleted_by`` stays None).
    evicted_at: int | None = None


@dataclass(slots=True)
class McpRecord:
    """An MCP item in the conversation (sim/mcp_items.py): it holds a place (later items
    anchor on it) but is not one of accord's items, so :meth:`ConversationStore.items`
    and :meth:`~ConversationStore.history` leave it out."""

    seq: int
    created_at: int
    item: McpItem
    creator: Creator
    created_by: str | None
    response_id: str | None = None
    transcript_pending: bool = False  # never: only user audio waits for a transcript
    deleted_by: str | None = None
    deleted_at: int | None = None
    deleted_in_flight: bool = False
    pred_at_delete: AnyRecord | None = None
    alive: bool = True
    evicted_at: int | None = None


AnyRecord = ItemRecord | McpRecord


@dataclass(frozen=True, slots=True)
class CreateAttempt:
    """A create the store processed: the anchor it named and whether that anchor existed."""

    transition: int
    event_id: str | None
    item_id: str | None
    previous_item_id: str | None  # as sent: None = unset (append), "root", or an id
    anchor_existed: bool
    error: ServerError | None


# -- outcomes: what the server reports for each operation -----------------------------


@dataclass(frozen=True, slots=True)
class Added:
    """``conversation.item.added`` (then ``.done``): ``previous_item_id`` None when first."""

    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class McpAdded:
    """``conversation.item.added`` for an MCP item."""

    item: McpItem
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class Deleted:
    item_id: str


@dataclass(frozen=True, slots=True)
class Truncated:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class Retrieved:
    item: Item | McpItem


@dataclass(frozen=True, slots=True)
class Transcribed:
    """``conversation.item.input_audio_transcription.completed`` for a live item."""

    item_id: str
    transcript: str


Outcome = Added | Deleted | Truncated | Retrieved | Transcribed | ServerError


@dataclass(slots=True)
class StoreConfig:
    """Behaviours not confirmed on the real API, as switches with the default used.

    ``reuse_deleted_ids``: assumed True (clients re-create items under a deleted id, as
    LiveKit does for edits, and no error has been reported for it).
    """

    reuse_deleted_ids: bool = True
    # The longest client-chosen id (observed: 32 on OpenAI's server). The xai dialect
    # raises it: xAI's own ids are 36-character UUIDs, which a client restoring a
    # conversation sends back (whether xAI accepts longer ids is unconfirmed).
    max_id_length: int = MAX_ID_LENGTH


@dataclass
class ConversationStore:
    """One session's server-side conversation."""

    config: StoreConfig = field(default_factory=StoreConfig)
    id_seed: int | None = 0
    # Where server-chosen ids come from. None: a generator seeded with ``id_seed``, so
    # the store alone stays deterministic (the explorer relies on it); the simulator's
    # sessions pass their own id stream (sim/ids.py), which outlives a restart.
    id_source: Callable[[], str] | None = None
    _order: list[AnyRecord] = field(default_factory=list)
    _live: dict[str, AnyRecord] = field(default_factory=dict)
    _all: list[ItemRecord] = field(default_factory=list)
    _mcp_all: list[McpRecord] = field(default_factory=list)
    _seen_ids: set[str] = field(default_factory=set)
    _done_responses: set[str] = field(default_factory=set)
    creates: list[CreateAttempt] = field(default_factory=list)
    # Items the server's truncation dropped, in the order dropped: gone from the
    # conversation like deleted ones, but no client asked (a judge tells eviction from loss).
    evicted: list[AnyRecord] = field(default_factory=list)
    transitions: int = 0
    _ids: IdGenerator = field(init=False)

    def __post_init__(self) -> None:
        self._ids = IdGenerator(self.id_seed, prefix="item")

    # -- reading ------------------------------------------------------------------------

    def items(self) -> list[Item]:
        """The live conversation, in order (accord's items; MCP items: :meth:`entries`)."""
        return [rec.item for rec in self._order if isinstance(rec, ItemRecord)]

    def ids(self) -> list[str]:
        return [rec.item.id for rec in self._order if isinstance(rec, ItemRecord)]

    def entries(self) -> list[Item | McpItem]:
        """Everything the conversation holds, MCP items included, in order."""
        return [rec.item for rec in self._order]

    def entry_ids(self) -> list[str]:
        return [rec.item.id for rec in self._order]

    def get(self, item_id: str) -> Item | None:
        rec = self._live.get(item_id)
        return rec.item if isinstance(rec, ItemRecord) else None

    def get_mcp(self, item_id: str) -> McpItem | None:
        rec = self._live.get(item_id)
        return rec.item if isinstance(rec, McpRecord) else None

    def mcp_items(self) -> list[McpItem]:
        return [rec.item for rec in self._order if isinstance(rec, McpRecord)]

    def record(self, item_id: str) -> ItemRecord | None:
        """The live record of ``item_id``, or its latest deleted incarnation."""
        rec = self._live.get(item_id)
        if isinstance(rec, ItemRecord):
            return rec
        for old in reversed(self._all):
            if old.item.id == item_id:
                return old
        return None

    def _any_record(self, item_id: str) -> AnyRecord | None:
        rec: AnyRecord | None = self._live.get(item_id) or self.record(item_id)
        if rec is None:
            rec = next((r for r in reversed(self._mcp_all) if r.item.id == item_id), None)
        return rec

    def history(self) -> Iterator[ItemRecord]:
        """Every incarnation ever created, alive or deleted, in creation order."""
        return iter(list(self._all))

    def is_in_flight(self, item_id: str) -> bool:
        """In flight as the server sees it: its response still running, or user audio
        still awaiting its transcript."""
        rec = self._live.get(item_id)
        return rec is not None and self._in_flight(rec)

    def _in_flight(self, rec: AnyRecord) -> bool:
        if rec.transcript_pending:
            return True
        return rec.response_id is not None and rec.response_id not in self._done_responses

    def known(self, item_id: str) -> bool:
        """Whether any item, alive or deleted, ever had ``item_id`` here."""
        return item_id in self._seen_ids

    def first_id(self) -> str | None:
        return self._order[0].item.id if self._order else None

    def last_id(self) -> str | None:
        return self._order[-1].item.id if self._order else None

    # -- client operations --------------------------------------------------------------

    def create(
        self,
        item: Item | None,
        previous_item_id: str | None = None,
        *,
        event_id: str | None = None,
        item_id_missing: bool = False,
    ) -> Added | ServerError:
        """``conversation.item.create``: anchor unset (append), ``"root"`` or an id.

        ``item_id_missing``: the client sent no id; the server assigns one.
        """
        if item is None:
            raise ValueError("create needs an item")
        self.transitions += 1
        if item_id_missing:
            # Named before anything else, so that the log records the id the server used
            # (it recorded the client's placeholder before).
            item = replace(item, id=self._fresh_id())
        anchor_ok = previous_item_id in (None, ROOT) or previous_item_id in self._live
        outcome = self._create(item, previous_item_id, event_id, anchor_ok)
        self.creates.append(
            CreateAttempt(
                transition=self.transitions,
                event_id=event_id,
                item_id=item.id,
                previous_item_id=previous_item_id,
                anchor_existed=anchor_ok,
                error=outcome if isinstance(outcome, ServerError) else None,
            )
        )
        return outcome

    def _create(
        self, item: Item, previous_item_id: str | None, event_id: str | None, anchor_ok: bool
    ) -> Added | ServerError:
        refused = self._check_ids(item, event_id)
        if refused is not None:
            return refused
        if item.id in self._live or (
            not self.config.reuse_deleted_ids and item.id in self._seen_ids
        ):
            return errors.duplicate_item_id(item.id, event_id)
        if not anchor_ok:
            assert previous_item_id is not None
            return errors.unknown_previous_item(previous_item_id, event_id)
        if isinstance(item, FunctionCallOutput) and not self._has_call(item.call_id):
            return errors.invalid_tool_call_id(item.call_id, event_id)
        at = self._insert_index(previous_item_id)
        rec = self._insert(at, item, Creator.CLIENT, event_id)
        return self._added(rec)

    def _check_ids(self, item: Item, event_id: str | None) -> ServerError | None:
        fields = [("item.id", item.id)]
        if isinstance(item, FunctionCall | FunctionCallOutput):
            fields.append(("item.call_id", item.call_id))
        for param, value in fields:
            if len(value) > self.config.max_id_length:
                return errors.id_too_long(param, len(value), event_id, self.config.max_id_length)
            if not _ID_PATTERN.match(value):
                return errors.id_bad_pattern(param, event_id)
        return None

    def delete(self, item_id: str, *, event_id: str | None = None) -> Deleted | ServerError:
        """``conversation.item.delete``. Deleting a call leaves its output (the server does
        not cascade); the pairs invariant is the client's to keep."""
        self.transitions += 1
        rec = self._live.get(item_id)
        if rec is None:
            return errors.unknown_item_delete(item_id, event_id)
        rec.deleted_in_flight = self._in_flight(rec)
        rec.deleted_by = event_id
        rec.deleted_at = self.transitions
        rec.alive = False
        at = self._position(item_id)
        rec.pred_at_delete = self._order[at - 1] if at > 0 else None
        del self._order[at]
        del self._live[item_id]
        return Deleted(item_id)

    def retrieve(self, item_id: str, *, event_id: str | None = None) -> Retrieved | ServerError:
        """``conversation.item.retrieve``: a snapshot of the item as it is now."""
        rec = self._live.get(item_id)
        if rec is None:
            return errors.unknown_item_retrieve(item_id, event_id)
        return Retrieved(rec.item)

    def truncate(
        self,
        item_id: str,
        content_index: int,
        audio_end_ms: int,
        *,
        event_id: str | None = None,
    ) -> Truncated | ServerError:
        """``conversation.item.truncate``: assistant audio only, within its length.

        The server drops the truncated item's transcript (documented), so the item keeps
        its audio up to ``audio_end_ms`` and no text.
        """
        self.transitions += 1
        rec = self._live.get(item_id)
        if rec is None:
            return errors.unknown_item_truncate(item_id, event_id)
        if not isinstance(rec, ItemRecord):
            return errors.truncate_not_audio(event_id)
        item = rec.item
        # An assistant audio item with no audio yet (length unknown or 0) is refused like
        # any non-audio item: the notes' "truncate before any audio" gives
        # unsupported_content_type (it got "Audio content of 0ms ..." before).
        if not (
            isinstance(item, Message) and item.role == "assistant" and item.audio and item.audio_ms
        ):
            return errors.truncate_not_audio(event_id)
        if content_index != 0:
            return errors.truncate_not_audio(event_id)
        audio_ms = item.audio_ms
        if audio_end_ms > audio_ms or audio_end_ms < 0:
            return errors.truncate_past_audio(audio_ms, audio_end_ms, event_id)
        if rec.transcript_before_truncate is None:
            rec.transcript_before_truncate = item.content
        rec.item = replace(item, content="", audio_ms=audio_end_ms)
        return Truncated(item_id, content_index, audio_end_ms)

    # -- server-side changes ------------------------------------------------------------

    def add_output_item(self, item: Item, response_id: str, *, after: str | None = None) -> Added:
        """A response's output item, placed after the current last item.

        ``after`` places it elsewhere: the simulator uses it to reproduce the server
        anchoring an item on one a client just deleted (race R6): then the item goes
        after that item's surviving predecessor.
        """
        self.transitions += 1
        at = len(self._order) if after is None else self._position_after_maybe_deleted(after)
        rec = self._insert(at, item, Creator.RESPONSE, response_id, response_id=response_id)
        if isinstance(item, Message) and item.role == "assistant" and item.audio:
            rec.audio_total_ms = item.audio_ms
        return self._added(rec)

    def add_user_audio(self, item_id: str | None = None) -> Added:
        """Committed input audio: a user item with no transcript yet, appended."""
        self.transitions += 1
        item = Message(id=item_id or self._fresh_id(), role="user", content=None, audio=True)
        rec = self._insert(len(self._order), item, Creator.USER_AUDIO, None)
        rec.transcript_pending = True
        return self._added(rec)

    def update_output_item(self, item: Item) -> bool:
        """A streaming response's item grows (text, audio, arguments). False when deleted."""
        self.transitions += 1
        rec = self._live.get(item.id)
        # Only the response's own incarnation grows: a client item re-created under a
        # deleted output's id (a naive rewrite, race R9) is another item, which the
        # still-streaming response must not overwrite (it did before).
        if not isinstance(rec, ItemRecord) or rec.creator is not Creator.RESPONSE:
            return False
        if rec.transcript_before_truncate is not None:
            # Truncated: the item is final. A cancelled response's last update arriving
            # after the truncate must not restore the audio and transcript it cut.
            return False
        rec.item = item
        if isinstance(item, Message) and item.audio and item.role == "assistant":
            rec.audio_total_ms = item.audio_ms
        return True

    def complete_transcript(self, item_id: str, transcript: str | None) -> Transcribed | None:
        """A transcription finished (``transcript``) or failed (None). A transcript for a
        deleted item is dropped: it never resurrects the item (race R17)."""
        self.transitions += 1
        # The transcript belongs to the committed audio, not to whatever holds its id now:
        # a client item re-created under a deleted audio item's id (R17, "deleted or
        # rewritten") is left alone (it was overwritten before).
        rec = next(
            (r for r in reversed(self._all) if r.item.id == item_id and r.transcript_pending),
            None,
        )
        if rec is None:
            return None
        rec.transcript_pending = False
        if transcript is None or not rec.alive or not isinstance(rec.item, Message):
            return None
        rec.item = replace(rec.item, content=transcript)
        return Transcribed(item_id, transcript)

    def add_mcp_item(
        self,
        item: McpItem,
        creator: Creator,
        created_by: str | None,
        *,
        response_id: str | None = None,
        previous_item_id: str | None = None,
    ) -> McpAdded:
        """An MCP item: the server's (a tool list, a response's call or approval
        request) or a client's create (anchor unset, ``"root"`` or a live id, already
        checked by the caller)."""
        self.transitions += 1
        if item.id in self._live:
            raise ValueError(f"item id {item.id!r} is already in the conversation")
        at = self._insert_index(previous_item_id)
        rec = McpRecord(
            len(self._all) + len(self._mcp_all),
            self.transitions,
            item,
            creator,
            created_by,
            response_id=response_id,
        )
        self._order.insert(at, rec)
        self._live[item.id] = rec
        self._mcp_all.append(rec)
        self._seen_ids.add(item.id)
        return McpAdded(item, self._previous(rec))

    def update_mcp_item(self, item: McpItem) -> bool:
        """An MCP item changes (a call's arguments grow, its output arrives)."""
        self.transitions += 1
        rec = self._live.get(item.id)
        if not isinstance(rec, McpRecord):
            return False
        rec.item = item
        return True

    def is_live(self, item_id: str) -> bool:
        """Whether the conversation holds ``item_id`` now (MCP items included)."""
        return item_id in self._live

    def evict(self, item_ids: list[str] | tuple[str, ...]) -> list[AnyRecord]:
        """The server's truncation drops these live items, silently (no
        ``conversation.item.deleted``); retrieve, delete and anchors then fail for them as
        for any id the conversation does not hold."""
        self.transitions += 1
        dropped: list[AnyRecord] = []
        for item_id in item_ids:
            rec = self._live.get(item_id)
            if rec is None:
                continue
            at = self._position(item_id)
            rec.pred_at_delete = self._order[at - 1] if at > 0 else None
            rec.alive = False
            rec.evicted_at = self.transitions
            del self._order[at]
            del self._live[item_id]
            dropped.append(rec)
        self.evicted.extend(dropped)
        return dropped

    def evicted_ids(self) -> list[str]:
        return [rec.item.id for rec in self.evicted]

    def finish_response(self, response_id: str) -> None:
        """``response.done`` was sent: its items are no longer in flight."""
        self.transitions += 1
        self._done_responses.add(response_id)

    # -- internals ----------------------------------------------------------------------

    def _has_call(self, call_id: str) -> bool:
        return any(
            isinstance(rec.item, FunctionCall) and rec.item.call_id == call_id
            for rec in self._order
        )

    def _fresh_id(self) -> str:
        """A server-chosen id no item of this conversation ever had (the generator alone
        does not know the ids clients chose, so it could repeat one)."""
        draw = self._ids.new if self.id_source is None else self.id_source
        new = draw()
        while new in self._seen_ids:
            new = draw()
        return new

    def _insert_index(self, previous_item_id: str | None) -> int:
        """Where a create goes: at the end (anchor unset), first (``"root"``) or right
        after its live anchor."""
        if previous_item_id is None:
            return len(self._order)
        if previous_item_id == ROOT:
            return 0
        return self._position(previous_item_id) + 1

    def _position(self, item_id: str) -> int:
        target = self._live[item_id]
        for i, rec in enumerate(self._order):
            if rec is target:
                return i
        raise AssertionError(f"live item {item_id!r} missing from the order")

    def _position_after_maybe_deleted(self, item_id: str) -> int:
        """Index right after ``item_id``, or after its surviving predecessor if deleted:
        follow each deleted item to the item that stood before it when it was deleted."""
        rec = self._any_record(item_id)
        if rec is None:
            # A server never anchors on an id it never held: a bug in the caller, not a
            # place (it went silently to position 0 before).
            raise ValueError(f"no item {item_id!r} was ever in the conversation")
        while rec is not None and not rec.alive:
            rec = rec.pred_at_delete
        return 0 if rec is None else self._position(rec.item.id) + 1

    def _insert(
        self,
        at: int,
        item: Item,
        creator: Creator,
        created_by: str | None,
        *,
        response_id: str | None = None,
    ) -> ItemRecord:
        if item.id in self._live:
            # Client creates are refused before this; a server-side add of a live id is a
            # bug in the caller and would have left two live items under one id.
            raise ValueError(f"item id {item.id!r} is already in the conversation")
        rec = ItemRecord(
            seq=len(self._all),
            created_at=self.transitions,
            item=item,
            creator=creator,
            created_by=created_by,
            response_id=response_id,
        )
        self._order.insert(at, rec)
        self._live[item.id] = rec
        self._all.append(rec)
        self._seen_ids.add(item.id)
        return rec

    def _added(self, rec: ItemRecord) -> Added:
        return Added(rec.item, self._previous(rec))

    def _previous(self, rec: AnyRecord) -> str | None:
        i = self._position(rec.item.id)
        return self._order[i - 1].item.id if i > 0 else None
