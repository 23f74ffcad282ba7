"""What a session tells the application: small frozen events, one stream.

``session.events()`` yields these in order. Function calls come as
:class:`FunctionCallReady`; the application runs the tool and reports
``tool_started`` / ``tool_finished`` to the session, which sends the output and the one
follow-up itself.

One vocabulary, each event defined once: what the sync engine decides
(:class:`FunctionCallReady`, :class:`ContextSynced`, :class:`CallOrphaned`,
:class:`OutputFailed`, :class:`Reconnected`, :class:`Resumed`, :class:`ItemsEvicted`,
:class:`Notice`) is the engine's own event (:mod:`accord.engine.events`), passed on as it
is; what only the session knows (the server's session, speech, transcripts, a
generation, an error, the connection) is defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.engine.events import (
    CallOrphaned,
    ContextSynced,
    FunctionCallReady,
    ItemsEvicted,
    Notice,
    OutputFailed,
    Reconnected,
    Resumed,
)
from accord.items import Item, McpItem

if TYPE_CHECKING:
    from accord.client.generation import Generation


@dataclass(frozen=True, slots=True)
class SessionStarted:
    session_id: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class InputSpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class InputSpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputTranscriptCompleted:
    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class InputTranscriptFailed:
    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class RemoteItemAdded:
    """An item is on the server (the mirror has it)."""

    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class McpItemDone:
    """An MCP item the server made is complete: a tool listing, a call with its output
    or error, or an approval request awaiting the client's answer (the agent runner
    answers it, see docs/mcp.md)."""

    item: McpItem


@dataclass(frozen=True, slots=True)
class GenerationStarted:
    generation: Generation


@dataclass(frozen=True, slots=True)
class ServerErrorEvent:
    """An ``error`` from the server, with the operation it answered when there is one.

    ``event_id`` is the server's echo of a client event id (None when the error carried
    none). ``operation`` (``create``, ``delete``, ``truncate``, ``response``, ``cancel``,
    ``session``), ``item_id`` and ``call_id`` name what was refused, matched by event id
    or, when the error names none, by order and type; ``retried`` says accord sent the
    operation again (a transient ``server_error``, a re-anchored create), so nothing is
    lost yet. A tool output that could not be delivered also comes as
    :class:`OutputFailed`; a push's refusals are in its report (``failed``).
    """

    code: str | None
    message: str
    event_id: str | None
    operation: str | None = None
    item_id: str | None = None
    call_id: str | None = None
    retried: bool = False


@dataclass(frozen=True, slots=True)
class RolledOver:
    """The session moved to a new server session before the server's cap: a planned
    switch at a quiet point (docs/rollover.md), in place of the drop the cap would be.

    ``restored`` items are on the new server (the whole conversation, as a reconnect
    restores it), ``lost`` names user audio never transcribed (empty: a quiet point
    awaits no transcript); ``session_id`` is the new server session's id and
    ``previous_session_id`` the old one's. No :class:`Disconnected` or
    :class:`Reconnected` comes with it: nothing was dropped. The user's audio pushed
    meanwhile was held and has been sent to the new session."""

    restored: int
    lost: tuple[str, ...]
    session_id: str | None
    previous_session_id: str | None


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    code: int | None
    will_reconnect: bool


__all__ = [  # the engine's events among them, passed on as they are (no rename)
    "CallOrphaned",
    "ContextSynced",
    "Disconnected",
    "FunctionCallReady",
    "GenerationStarted",
    "InputSpeechStarted",
    "InputSpeechStopped",
    "InputTranscriptCompleted",
    "InputTranscriptFailed",
    "ItemsEvicted",
    "McpItemDone",
    "Notice",
    "OutputFailed",
    "Reconnected",
    "RemoteItemAdded",
    "Resumed",
    "RolledOver",
    "ServerErrorEvent",
    "SessionEvent",
    "SessionStarted",
]

SessionEvent = (
    SessionStarted
    | InputSpeechStarted
    | InputSpeechStopped
    | InputTranscriptCompleted
    | InputTranscriptFailed
    | RemoteItemAdded
    | McpItemDone
    | GenerationStarted
    | FunctionCallReady
    | CallOrphaned
    | OutputFailed
    | ContextSynced
    | ServerErrorEvent
    | Reconnected
    | Resumed
    | RolledOver
    | ItemsEvicted
    | Disconnected
    | Notice
)
