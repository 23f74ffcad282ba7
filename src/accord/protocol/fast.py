"""Fast encoders for the hottest events: item creates and their acknowledgements; and
peeks at a frame's type and at streamed deltas, for listeners that skip most frames.

A push of hundreds of items, or a simulator acknowledging them, spends most of its time
building pydantic models only to dump them again. These build the same JSON directly,
byte for byte what :func:`accord.protocol.encode` produces for the same event (a test
holds them to it), for the three item kinds accord models.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, Union

import msgspec

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import server_events as se
from accord.protocol.base import DROP_ALL_NULLS
from accord.protocol.codec import type_names
from accord.protocol.wire_items import item_to_wire

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _part(message: Message, *, server: bool) -> dict[str, Any]:
    if message.audio:
        kind = "output_audio" if message.role == "assistant" else "input_audio"
        if message.content is None and not server:
            return {"type": kind}  # client events drop the null transcript
        return {"type": kind, "transcript": message.content}
    kind = "output_text" if message.role == "assistant" else "input_text"
    return {"type": kind, "text": message.text}


def _item(item: Item, status: str | None, *, server: bool) -> dict[str, Any]:
    if not isinstance(item, Message | FunctionCall | FunctionCallOutput):
        # MCP items are rare: the validating models spell them (as encode() would);
        # the SDK's MCP types carry no status, so none is added.
        wire = item_to_wire(item)
        dumped: dict[str, Any] = wire.model_dump(
            mode="json", context={DROP_ALL_NULLS: True} if not server else None
        )
        return dumped
    out: dict[str, Any] = {"id": item.id}
    if isinstance(item, FunctionCallOutput):
        out.update(type="function_call_output", call_id=item.call_id, output=item.output)
        return out
    if status is not None:
        out["status"] = status
    if isinstance(item, FunctionCall):
        out.update(
            type="function_call", call_id=item.call_id, name=item.name, arguments=item.arguments
        )
    else:
        out.update(type="message", role=item.role, content=[_part(item, server=server)])
    return out


def encode_item_create(event_id: str, item: Item, previous_item_id: str | None) -> str:
    """``conversation.item.create`` (``previous_item_id`` None: unset, append)."""
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "event_id": event_id,
        "item": _item(item, None, server=False),
    }
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    return _DUMPS(event)


def encode_item_ack(
    kind: str,
    event_id: str,
    previous_item_id: str | None,
    item: Item,
    status: str = "completed",
) -> str:
    """``conversation.item.added`` / ``.done`` as the server sends them."""
    return _DUMPS(
        {
            "type": kind,
            "event_id": event_id,
            "previous_item_id": previous_item_id,
            "item": _item(item, status, server=True),
        }
    )


#: The ``type`` :func:`decode_item_ack` returns for an ``item.added`` (else it is a
#: ``.done``), so that a caller tells the two apart without spelling the wire name.
ITEM_ADDED = "conversation.item.added"
ITEM_DONE = "conversation.item.done"
_ACKS = (ITEM_ADDED, ITEM_DONE)


def decode_item_ack(frame: str) -> tuple[str, str | None, Item] | None:
    """(type, previous_item_id, item) of an ``item.added`` / ``.done`` carrying a text
    message, a function call or an output; None for anything else (the caller then
    takes the validating parser, which also reports malformed events)."""
    if '"conversation.item.' not in frame[:48]:
        return None
    try:
        data = _LOADS(frame)
        kind = data["type"]
        if kind not in _ACKS or not isinstance(data.get("event_id"), str):
            return None
        previous = data.get("previous_item_id")
        raw = data["item"]
        item = _decode_item(raw)
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # the validating parser reports it
    if item is None or not (previous is None or isinstance(previous, str)):
        return None
    return kind, previous, item


def _decode_item(raw: dict[str, Any]) -> Item | None:
    kind, item_id = raw.get("type"), raw.get("id")
    if not isinstance(item_id, str) or not item_id:
        return None
    if kind == "function_call":
        call_id, name, arguments = raw["call_id"], raw["name"], raw.get("arguments", "")
        if all(isinstance(v, str) for v in (call_id, name, arguments)):
            return FunctionCall(id=item_id, call_id=call_id, name=name, arguments=arguments)
        return None
    if kind == "function_call_output":
        call_id, output = raw["call_id"], raw["output"]
        if isinstance(call_id, str) and isinstance(output, str):
            return FunctionCallOutput(id=item_id, call_id=call_id, output=output)
        return None
    if kind != "message" or raw.get("role") not in ("system", "user", "assistant"):
        return None
    texts: list[str] = []
    for part in raw.get("content") or []:
        if part.get("type") not in ("input_text", "output_text", "text"):
            return None  # audio or images: the full parser handles them
        text = part.get("text")
        if not isinstance(text, str):
            return None
        texts.append(text)
    return Message(id=item_id, role=raw["role"], content="".join(texts))


def peek_type(frame: str) -> str | None:
    """The ``type`` of a JSON event frame without decoding it whole: read from the
    frame's head when it comes first (as accord, the simulator and the real server write
    it), else from the decoded frame; None for something that is not an event."""
    head = frame[:160]
    at = head.find('"type":')
    if at >= 0:
        rest = head[at + 7 :].lstrip()
        end = rest.find('"', 1)
        if rest.startswith('"') and end > 0 and "\\" not in rest[:end]:
            return rest[1:end]
    try:
        data = _LOADS(frame)
    except (ValueError, RecursionError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _delta_types() -> frozenset[str]:
    classes = (
        se.ResponseOutputAudioDelta,
        se.ResponseOutputTextDelta,
        se.ResponseOutputAudioTranscriptDelta,
        se.ResponseFunctionCallArgumentsDelta,
        se.InputAudioTranscriptionDelta,
    )
    return frozenset(name for cls in classes for name in type_names(cls))


#: The streamed deltas (either dialect): the bulk of a session's server frames.
DELTA_TYPES = _delta_types()


def peek_delta(frame: str) -> tuple[str, str, str] | None:
    """``(type, response_id, item_id)`` of a streamed delta frame, read without
    validating it (a listener counting a long reply's deltas need not build a model for
    each); None for any other frame. ``response_id`` is empty for a user transcript."""
    if peek_type(frame) not in DELTA_TYPES:
        return None
    try:
        data = _LOADS(frame)
    except (ValueError, RecursionError):
        return None
    item = data.get("item_id")
    if not isinstance(item, str):
        return None
    return str(data["type"]), str(data.get("response_id") or ""), item


# -- server events built directly (the explorer's pair, a simulator's hot path) ---------


def encode_server_event(cls: type[se.ServerEvent], event_id: str, **fields: Any) -> str:
    """A server event of ``cls`` (its GA type) with ``fields``, as JSON, without building
    and dumping a model: the same JSON value :func:`accord.protocol.encode` gives for
    ``cls(event_id=event_id, **fields)`` when ``fields`` are already plain JSON values
    (a test holds them to it). Nothing is validated: the reader's parser does that."""
    kind = _GA_TYPE.get(cls)
    if kind is None:
        kind = _GA_TYPE[cls] = type_names(cls)[0]
    return _DUMPS({"type": kind, "event_id": event_id, **fields})


_GA_TYPE: dict[type[se.ServerEvent], str] = {}


def server_item(item: Item, status: str | None = "completed") -> dict[str, Any]:
    """An item as the server reports it in an event, as plain JSON values."""
    return _item(item, status, server=True)


def announced_item(item: Item) -> dict[str, Any]:
    """An output item as ``response.output_item.added`` shows it: in progress, empty
    (a message without content, a call without arguments)."""
    if isinstance(item, Message):
        return {
            "id": item.id,
            "status": "in_progress",
            "type": "message",
            "role": item.role,
            "content": [],
        }
    if isinstance(item, FunctionCall):
        announced = FunctionCall(id=item.id, call_id=item.call_id, name=item.name, arguments="")
        return _item(announced, "in_progress", server=True)
    return _item(item, "in_progress", server=True)


def response_body(
    response_id: str,
    status: str,
    *,
    metadata: dict[str, str] | None = None,
    conversation_id: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``response`` object of ``response.created`` / ``response.done`` with no output
    listed, as plain JSON values (the fields a client reads: id, status, metadata,
    conversation, usage)."""
    return {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id,
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {},
        "metadata": metadata,
        "usage": usage,
    }


def error_body(code: str | None, message: str, event_id: str | None) -> dict[str, Any]:
    """An ``error`` event's ``error`` object for a refused client event, as JSON values."""
    return {
        "type": "invalid_request_error",
        "code": code,
        "message": message,
        "param": None,
        "event_id": event_id,
    }


def transcription_error_body(message: str) -> dict[str, Any]:
    """The ``error`` of a failed input transcription, as JSON values."""
    return {"type": "transcription_error", "message": message}


# -- streamed output deltas (the bulk of a reply's frames) ------------------------------

#: The kinds :func:`decode_output_delta` returns.
TEXT_DELTA, TRANSCRIPT_DELTA, AUDIO_DELTA = "text", "transcript", "audio"

_OUTPUT_DELTA_KINDS: dict[str, str] = {
    **dict.fromkeys(type_names(se.ResponseOutputTextDelta), TEXT_DELTA),
    **dict.fromkeys(type_names(se.ResponseOutputAudioTranscriptDelta), TRANSCRIPT_DELTA),
    **dict.fromkeys(type_names(se.ResponseOutputAudioDelta), AUDIO_DELTA),
}


class OutputDelta(msgspec.Struct, frozen=True):
    """An output text, transcript or audio delta as :func:`decode_output_delta` reads
    it: the fields the schema requires, each type-checked by msgspec as it parses (extra
    fields are skipped), and, per type, its ``kind`` (:data:`TEXT_DELTA`,
    :data:`TRANSCRIPT_DELTA` or :data:`AUDIO_DELTA`) and the ``modality`` a stream names
    it by (``"text"`` for output text, ``"audio"`` for the rest)."""

    event_id: str
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str
    kind: ClassVar[str] = ""
    modality: ClassVar[Literal["text", "audio"]] = "audio"


def _delta_struct(type_name: str, kind: str) -> type[OutputDelta]:
    struct = msgspec.defstruct(
        "_" + type_name.replace(".", "_"),
        [],
        bases=(OutputDelta,),
        tag_field="type",
        tag=type_name,
        frozen=True,
        namespace={"kind": kind, "modality": "text" if kind == TEXT_DELTA else "audio"},
    )
    assert issubclass(struct, OutputDelta)
    return struct


#: One typed decoder for the six delta types (GA and beta names), tagged by ``type``.
_DELTA_DECODER = msgspec.json.Decoder(
    Union[tuple(_delta_struct(name, kind) for name, kind in _OUTPUT_DELTA_KINDS.items())]  # noqa: UP007
)


def decode_output_delta(frame: str) -> OutputDelta | None:
    """An output text, audio transcript or audio delta (either dialect), decoded and
    type-checked in one pass by msgspec, without building a model; None for any other
    frame or for one whose fields are not what the schema says (the caller then takes
    the validating parser, which reports it)."""
    if frame.find('.delta"', 0, 72) < 0:
        return None
    try:
        delta: OutputDelta = _DELTA_DECODER.decode(frame)
    except (msgspec.MsgspecError, RecursionError):  # not JSON, another type, a field
        return None  # missing or mistyped, nested too deeply: the parser reports it
    return delta


#: The readers above parse with msgspec: measured on these frames (``accord bench
#: engine``), its plain decode takes 0.41 us for a text delta's frame where orjson takes
#: 0.48 and ``json`` 1.6, and its typed decode, which checks every required field's
#: type as it parses, 0.28. Whatever it reads differently from ``json`` it refuses
#: (NaN, Infinity, numbers beyond a double, escaped lone surrogates), and a refused
#: frame goes to the validating parser, whose ``json`` decoder has the last word.
_LOADS = msgspec.json.Decoder().decode
