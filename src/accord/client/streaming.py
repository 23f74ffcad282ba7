"""What the core says about a response's content as it arrives, for the shell's streams.

The core owns no asyncio object (issue 16): it does not feed :class:`Generation`
streams itself. It says what happened, one small immutable record per server event, and the
shell (:class:`accord.client.generation.Generations`, held by :mod:`accord.session`)
turns the records into the streams and ``wait()`` the application reads. A replay, a
benchmark or a test that drives the core without a shell simply ignores them.

The records are the shell's input, not the application's vocabulary: the application
sees :class:`~accord.client.events.GenerationStarted` and the generation's streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from accord.items import FunctionCall


@dataclass(frozen=True, slots=True)
class ResponseBegan:
    """``response.created``: a response the shell makes a generation for.

    ``requested_by`` is the event id of our ``response.create`` (None: the server's VAD
    started it); ``metadata`` is what the request's metadata said."""

    response_id: str
    out_of_band: bool
    requested_by: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputBegan:
    """``response.output_item.added``: an output item of the response, in order."""

    response_id: str
    item_id: str
    is_message: bool


class TextDelta(NamedTuple):
    """Output text (``modality="text"``) or the transcript of output audio (``"audio"``).

    A named tuple, not a frozen dataclass like the others: one is made per streamed
    delta, the bulk of a reply's events, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) cost four times as much (``accord bench engine``)."""

    response_id: str
    item_id: str
    delta: str
    modality: Literal["text", "audio"]


class AudioDelta(NamedTuple):
    """Output audio as the server sent it, base64 (decoded only by a reader). A named
    tuple, as :class:`TextDelta` is."""

    response_id: str
    item_id: str
    delta_b64: str


@dataclass(frozen=True, slots=True)
class CallArguments:
    """``response.function_call_arguments.done``: a function call with its arguments."""

    response_id: str
    call: FunctionCall


@dataclass(frozen=True, slots=True)
class OutputEnded:
    """``response.output_item.done``: that item's own streams end."""

    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    """``response.done`` (its status and usage), or ``failed`` for a response the
    connection was lost in the middle of."""

    response_id: str
    status: str
    usage: dict[str, Any] | None = None


StreamEvent = (
    ResponseBegan
    | OutputBegan
    | TextDelta
    | AudioDelta
    | CallArguments
    | OutputEnded
    | ResponseEnded
)
