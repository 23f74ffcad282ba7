"""What a session tells the application: small frozen events, one stream.

``session.events()`` yields these in order. Function calls come as
:class:`FunctionCallReady`; the application runs the tool and reports
``tool_started`` / ``tool_finished`` to the session, which sends the output and the one
follow-up itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.engine.events import PushReport
from accord.items import FunctionCall, Item

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
class GenerationStarted:
    generation: Generation


@dataclass(frozen=True, slots=True)
class FunctionCallReady:
    call: FunctionCall
    response_id: str | None


@dataclass(frozen=True, slots=True)
class CallOrphaned:
    """A call of a cancelled response never started: abandon it (``tool_abandoned``)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ContextSynced:
    report: PushReport


@dataclass(frozen=True, slots=True)
class ServerErrorEvent:
    code: str | None
    message: str
    event_id: str | None


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The connection was restored; ``lost`` names user audio that could not be."""

    attempt: int
    restored: int
    lost: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    code: int | None
    will_reconnect: bool


@dataclass(frozen=True, slots=True)
class Notice:
    text: str


SessionEvent = (
    SessionStarted
    | InputSpeechStarted
    | InputSpeechStopped
    | InputTranscriptCompleted
    | InputTranscriptFailed
    | RemoteItemAdded
    | GenerationStarted
    | FunctionCallReady
    | CallOrphaned
    | ContextSynced
    | ServerErrorEvent
    | Reconnected
    | Disconnected
    | Notice
)
