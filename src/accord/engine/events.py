"""Every input the engine consumes and every effect it returns, in one place.

Like h11's ``_events.py``: small frozen classes, complete on construction. Server inputs
are wire-independent (``accord.protocol`` translates the wire into them), so the engine
never sees event names or raw dicts. Effects are client operations to send
(:class:`Send` of a :class:`ClientOp`), resolutions of operations, and the events the
application itself reads (:class:`FunctionCallReady`, :class:`ContextSynced`,
:class:`CallOrphaned`, :class:`OutputFailed`, :class:`Reconnected`, :class:`Resumed`,
:class:`Notice`), which :mod:`accord.client.events` passes on as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from accord.items import FunctionCall, Item
from accord.provenance import DeleteReason

ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed"]

# -- server inputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """``conversation.item.added``: an item is on the server after ``previous_item_id``."""

    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class ItemUpdated:
    """Server-side content: streamed text, audio or arguments; ``done`` for
    ``conversation.item.done`` / ``response.output_item.done`` (the item is complete)."""

    item: Item
    done: bool = False


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    item_id: str


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ItemRetrieved:
    """``conversation.item.retrieved``: a snapshot, never an insert (R20)."""

    item: Item


@dataclass(frozen=True, slots=True)
class TranscriptDone:
    """Input transcription ``.completed`` (``transcript``) or ``.failed`` (None)."""

    item_id: str
    transcript: str | None


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    """``response.created``; ``out_of_band`` when ``conversation`` is ``"none"``."""

    response_id: str
    out_of_band: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    """``response.output_item.added``: which response an item belongs to."""

    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """``response.done``; ``input_tokens`` is its ``usage.input_tokens`` when sent."""

    response_id: str
    status: ResponseStatus = "completed"
    input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ``error`` event; ``event_id`` is the client event it answers, when known."""

    code: str | None
    message: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    event_id: str | None = None


ServerInput = (
    ItemAdded
    | ItemUpdated
    | ItemDeleted
    | ItemTruncated
    | ItemRetrieved
    | TranscriptDone
    | ResponseCreated
    | OutputItemAdded
    | ResponseDone
    | ServerError
    | SessionUpdated
)

# -- client operations (effects to send) -----------------------------------------------


ROOT = "root"


@dataclass(frozen=True, slots=True)
class CreateItem:
    """``conversation.item.create``: ``previous_item_id`` an id, ``"root"`` for the start,
    or None (unset: append) for providers that cannot insert at an anchor."""

    event_id: str
    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class DeleteItem:
    event_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class RetrieveItem:
    """``conversation.item.retrieve``: is ``item_id`` still in the server's conversation
    (after a truncation the server did by itself: engine/eviction.py)?"""

    event_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class TruncateItem:
    event_id: str
    item_id: str
    audio_end_ms: int
    content_index: int = 0


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """``response.create``; ``metadata`` carries the engine's tag so it can be matched.

    ``input_items``: the response's own context, in order; a string names an item of
    the conversation (by its wire id, sent as an item reference), an item is sent
    inline and never enters the conversation."""

    event_id: str
    out_of_band: bool = False
    instructions: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    input_items: tuple[str | Item, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelResponse:
    event_id: str
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateSession:
    """``session.update``: the application's ``fields`` (an ``update_session``, or the
    configuration a new connection is given), or, with ``fields`` None, the engine's own
    toggle of turn detection (off during a restore, then back on)."""

    event_id: str
    server_vad: bool
    fields: Mapping[str, Any] | None = None


ClientOp = (
    CreateItem
    | DeleteItem
    | RetrieveItem
    | TruncateItem
    | CreateResponse
    | CancelResponse
    | UpdateSession
)

# -- notices for the application -------------------------------------------------------

Resolution = Literal["success", "error", "failure", "unknown", "moot"]


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``op`` now. The rest says which decision it came from (for the log)."""

    op: ClientOp
    reason: DeleteReason | None = None
    push_id: str | None = None
    partner_of: str | None = None
    played_ms: int | None = None
    replaces: str | None = None  # a create that rewrites or moves this id


@dataclass(frozen=True, slots=True)
class OpResolved:
    event_id: str
    status: Resolution
    code: str | None = None
    message: str | None = None
    # A response request dropped as moot because this in-band response answers what it
    # would have answered: a shell hands the request's waiter that response instead.
    answered_by: str | None = None


@dataclass(frozen=True, slots=True)
class PushReport:
    """What one push did: docs/architecture.md's report of ``update_chat_ctx``.

    ``sent``: event ids of the operations it caused; ``deferred``: ids of items whose
    delete waits for them to land; ``failed``: (item id, why); ``aliased``: old -> new
    ids of rewrites; ``notes``: decisions worth knowing (edit lost to a delete, a move
    refused, deletions a push without base would have made).
    """

    push_id: str
    sent: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    aliased: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextSynced:
    """A push is over: every operation it caused resolved or was deferred (``report``).

    The session ends the push's ``update_chat_ctx`` with this report and tells the
    application too, in order with everything else."""

    report: PushReport


@dataclass(frozen=True, slots=True)
class FunctionCallReady:
    """A function call is complete on the server: the application may run its tool
    (and reports ``tool_started`` / ``tool_finished``; the session sends the output and
    the one follow-up itself). ``response_id``: the response that made the call."""

    call: FunctionCall
    response_id: str | None


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """A call of a cancelled or incomplete response that never started was abandoned."""

    call_id: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class CallOrphaned:
    """A call of a cancelled or incomplete response never started: no longer in flight;
    the runner should abandon it (``tool_abandoned``)."""

    call_id: str
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The connection was restored: the ``attempt``-th reconnect's restore was
    acknowledged, ``restored`` items are on the new server, and ``lost`` names user
    audio never transcribed, which cannot be restored."""

    attempt: int
    restored: int
    lost: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resumed:
    """A journaled session was resumed in a new server session (docs/journal.md): its
    restore was acknowledged, ``restored`` items are on the new server, and ``lost``
    names user audio never transcribed (as a reconnect's). ``rerun``: calls whose tools
    were running (declared idempotent) or had not started, announced again as
    :class:`FunctionCallReady`; ``interrupted``: calls whose tool was running and may
    not run twice, answered with an output saying so."""

    restored: int
    lost: tuple[str, ...]
    rerun: tuple[str, ...] = ()
    interrupted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a server error refused, in the application's terms: the operation it
    answered (``create``, ``delete``, ``truncate``, ``response``, ``cancel``,
    ``session``) and the item and call it was about."""

    event_id: str
    operation: str
    item_id: str | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class OutputFailed:
    """A tool's output could not be put on the server: the call stays unanswered.

    Every function call gets exactly one output on the server, or this effect naming the
    call and why: the server refused the output for good (``code`` and ``message`` are
    its own), kept refusing it with a transient error, or the call was gone when the
    tool finished (``code`` ``call_gone``). The application may answer the call again
    (``tool_finished``) or tell the user that the request was not carried out.
    """

    call_id: str
    output: str
    code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ItemsEvicted:
    """The server dropped these items by itself (``session.truncation``: the oldest
    items of a conversation over its token limit), confirmed by
    ``conversation.item.retrieve``. They left the mirror and the application's context;
    no delete of them is sent and no create anchors on them."""

    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """Anything else worth logging: a late insert re-anchored, an ignored transcript."""

    text: str


Effect = (
    Send
    | OpResolved
    | ContextSynced
    | FunctionCallReady
    | CallAbandoned
    | CallOrphaned
    | OutputFailed
    | Reconnected
    | Resumed
    | ItemsEvicted
    | Notice
)
"""What the engine returns. Besides what to send (:class:`Send`) and how operations
resolved (:class:`OpResolved`), these are the very events the application reads from
``session.events()``: one vocabulary, defined here once, not renamed on the way."""

# The engine's earlier names, kept importable (deprecated): the same classes.
CallReady = FunctionCallReady
PushDone = ContextSynced
