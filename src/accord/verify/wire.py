"""The pair's channels in bytes: what its server does, as the frames a real server sends.

The explorer and the state machine drive a :class:`~accord.verify.harness.Pair`: a
client and the server's store, one event at a time. Both directions pass through the
wire here, so every explored schedule runs the decode path of a real session:

- **up**: an engine operation becomes the frame a session sends
  (:func:`accord.client.frames.op_frame`), which the server side parses with
  :func:`accord.protocol.parse_client_event` and reads back (:func:`op_from_frame`);
- **down**: each server input the pair emits becomes the server's frames
  (:class:`ServerWire`), which the client reads with its session core
  (``SessionCore.receive_frame``: the protocol decoder, then ``client/inbound.py``).

The frames have the real server's shapes (``docs/protocol-notes.md``): an output item
is announced by ``response.output_item.added`` (empty) and ``conversation.item.added``
(as the pair's server gives it), and is done with ``response.output_item.done`` and
``conversation.item.done``; the length of an assistant's audio travels as
``response.output_audio.delta`` bytes (no field carries it); streamed text and
arguments reach no engine input, as in a session.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from accord.engine import events as ev
from accord.items import Item, Message
from accord.protocol import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    UnknownEvent,
    item_from_wire,
    parse_client_event,
)
from accord.protocol import server_events as se
from accord.protocol.fast import (
    ITEM_ADDED,
    ITEM_DONE,
    announced_item,
    encode_item_ack,
    encode_server_event,
    error_body,
    response_body,
    server_item,
    transcription_error_body,
)
from accord.protocol.wire_items import WireItemReference

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz, the format the session counts audio in


def op_from_frame(frame: str) -> ev.ClientOp:
    """The operation a client frame asks the server for, read as the server reads it.

    A ``session.update`` comes back with its fields; ``server_vad`` says whether it turns
    detection on (only meaningful when :func:`sets_turn_detection` is true)."""
    event = parse_client_event(frame)
    if isinstance(event, UnknownEvent):
        raise ValueError(f"the pair's server does not know {event.type!r}")
    event_id = event.event_id
    if event_id is None:  # the engine names every frame it sends
        raise ValueError(f"a client frame without an event id: {frame[:200]}")
    if isinstance(event, ConversationItemCreate):
        return ev.CreateItem(event_id, item_from_wire(event.item), event.previous_item_id)
    if isinstance(event, ConversationItemDelete):
        return ev.DeleteItem(event_id, event.item_id)
    if isinstance(event, ConversationItemRetrieve):
        return ev.RetrieveItem(event_id, event.item_id)
    if isinstance(event, ConversationItemTruncate):
        return ev.TruncateItem(event_id, event.item_id, event.audio_end_ms, event.content_index)
    if isinstance(event, ResponseCreate):
        params = event.response
        entries = params.input or () if params is not None else ()
        return ev.CreateResponse(
            event_id,
            out_of_band=params is not None and params.conversation == "none",
            instructions=params.instructions if params is not None else None,
            metadata=dict(params.metadata or {}) if params is not None else {},
            input_items=tuple(
                e.id if isinstance(e, WireItemReference) else item_from_wire(e) for e in entries
            ),
        )
    if isinstance(event, ResponseCancel):
        return ev.CancelResponse(event_id, event.response_id)
    if isinstance(event, SessionUpdate):
        fields = {k: v for k, v in event.session.items() if k != "type"}
        turn = fields.get("audio", {}).get("input", {}).get("turn_detection")
        return ev.UpdateSession(event_id, turn is not None, fields)
    raise ValueError(f"the pair's server does not serve {event.type!r}")


def sets_turn_detection(op: ev.UpdateSession) -> bool:
    """Whether the update names turn detection at all (on or off)."""
    fields = op.fields or {}
    return "turn_detection" in fields.get("audio", {}).get("input", {})


class ServerWire:
    """The server's frames for each input the pair's server side emits.

    It remembers what a real server's frames need and the pair's inputs do not carry:
    which response each output item belongs to and at what index, and how much of each
    assistant audio item has been sent as audio deltas. Frames are built directly
    (:mod:`accord.protocol.fast`, the same JSON as the models give): an exhaustive
    exploration sends hundreds of thousands of them."""

    def __init__(self, item_of: Callable[[str], Item | None]) -> None:
        self._item_of = item_of
        self._n = 0
        self._output_of: dict[str, tuple[str, int]] = {}  # item id -> (response, index)
        self._outputs: dict[str, int] = {}  # response id -> output items so far
        self._audio_sent: dict[str, int] = {}  # item id -> audio bytes sent
        self._done_ids: set[str] = set()  # output items whose done events were sent
        self._silence: dict[int, str] = {}

    def frames(self, event: ev.ServerInput) -> list[str]:
        """The frames the real server sends for ``event``, in order."""
        if isinstance(event, ev.ItemAdded):
            return [self._added(event.item, event.previous_item_id), *self._audio(event.item)]
        if isinstance(event, ev.ItemUpdated):
            return [*self._audio(event.item), *(self._done(event.item) if event.done else [])]
        if isinstance(event, ev.ItemDeleted):
            return [_event(se.ConversationItemDeleted, self._id(), item_id=event.item_id)]
        if isinstance(event, ev.ItemTruncated):
            return [
                _event(
                    se.ConversationItemTruncated,
                    self._id(),
                    item_id=event.item_id,
                    content_index=0,
                    audio_end_ms=event.audio_end_ms,
                )
            ]
        if isinstance(event, ev.ItemRetrieved):
            item = server_item(event.item)
            return [_event(se.ConversationItemRetrieved, self._id(), item=item)]
        if isinstance(event, ev.TranscriptDone):
            return [self._transcript(event.item_id, event.transcript)]
        if isinstance(event, ev.ResponseCreated):
            self._outputs[event.response_id] = 0
            response = response_body(
                event.response_id,
                "in_progress",
                metadata=event.metadata or None,
                conversation_id=None if event.out_of_band else "conv_pair",
            )
            return [_event(se.ResponseCreated, self._id(), response=response)]
        if isinstance(event, ev.OutputItemAdded):
            return [self._output_added(event.response_id, event.item_id)]
        if isinstance(event, ev.ResponseDone):
            # The real server ends every output item before the response: one cut short
            # by a cancel is done as it stands ("incomplete").
            ended = self._end_open_outputs(event.response_id)
            self._outputs.pop(event.response_id, None)
            tokens = event.input_tokens
            usage = None if tokens is None else {"input_tokens": tokens}
            response = response_body(event.response_id, event.status, usage=usage)
            return [*ended, _event(se.ResponseDone, self._id(), response=response)]
        if isinstance(event, ev.ServerError):
            detail = error_body(event.code, event.message, event.event_id)
            return [_event(se.ErrorEvent, self._id(), error=detail)]
        if isinstance(event, ev.SessionUpdated):
            return [_event(se.SessionUpdated, self._id(), session={"type": "realtime"})]
        raise TypeError(f"the pair's server has no frames for {type(event).__name__}")

    # -- items --------------------------------------------------------------------------

    def _added(self, item: Item, previous_item_id: str | None) -> str:
        # As the pair gives it: what an item holds when announced is the emitter's to say
        # (empty for OpenAI's output items, whole for xAI's, which sends no done).
        status = "in_progress" if item.id in self._output_of else "completed"
        return encode_item_ack(ITEM_ADDED, self._id(), previous_item_id, item, status)

    def _end_open_outputs(self, response_id: str) -> list[str]:
        ended: list[str] = []
        for item_id, (owner, _index) in list(self._output_of.items()):
            item = self._item_of(item_id)
            if owner == response_id and item_id not in self._done_ids and item is not None:
                ended.extend(self._done(item, "incomplete"))
        return ended

    def _done(self, item: Item, status: str = "completed") -> list[str]:
        self._done_ids.add(item.id)
        done: list[str] = []
        placed = self._output_of.get(item.id)
        if placed is not None:
            response_id, index = placed
            done.append(
                _event(
                    se.ResponseOutputItemDone,
                    self._id(),
                    response_id=response_id,
                    output_index=index,
                    item=server_item(item, status),
                )
            )
        done.append(encode_item_ack(ITEM_DONE, self._id(), None, item, status))
        return done

    def _output_added(self, response_id: str, item_id: str) -> str:
        index = self._outputs.get(response_id, 0)
        self._outputs[response_id] = index + 1
        self._output_of[item_id] = (response_id, index)
        item = self._item_of(item_id) or Message(id=item_id, role="assistant", content="")
        return _event(
            se.ResponseOutputItemAdded,
            self._id(),
            response_id=response_id,
            output_index=index,
            item=announced_item(item),
        )

    def _audio(self, item: Item) -> list[str]:
        """Audio deltas for what an assistant's spoken output item gained."""
        placed = self._output_of.get(item.id)
        if placed is None or not isinstance(item, Message) or item.role != "assistant":
            return []
        if not item.audio or not item.audio_ms:
            return []
        owed = item.audio_ms * BYTES_PER_MS - self._audio_sent.get(item.id, 0)
        if owed <= 0:
            return []
        self._audio_sent[item.id] = item.audio_ms * BYTES_PER_MS
        response_id, index = placed
        return [
            _event(
                se.ResponseOutputAudioDelta,
                self._id(),
                response_id=response_id,
                item_id=item.id,
                output_index=index,
                content_index=0,
                delta=self._silent(owed),
            )
        ]

    def _silent(self, size: int) -> str:
        encoded = self._silence.get(size)
        if encoded is None:
            encoded = self._silence[size] = base64.b64encode(bytes(size)).decode("ascii")
        return encoded

    def _transcript(self, item_id: str, transcript: str | None) -> str:
        if transcript is None:
            return _event(
                se.InputAudioTranscriptionFailed,
                self._id(),
                item_id=item_id,
                content_index=0,
                error=transcription_error_body("transcription failed"),
            )
        return _event(
            se.InputAudioTranscriptionCompleted,
            self._id(),
            item_id=item_id,
            content_index=0,
            transcript=transcript,
        )

    def _id(self) -> str:
        self._n += 1
        return f"event_pair{self._n}"


_event = encode_server_event


def as_sent(client: object, items: Sequence[Item]) -> tuple[Item, ...]:
    """``items`` under the ids the server knows them by: a client that maps foreign ids
    to wire ids (the engine's ``wire_ids``) sends them so, and the checker judges a
    push by the ids the server holds. Items of a client without such a map as they are."""
    wire_ids = getattr(client, "wire_ids", None)
    if wire_ids is None:
        return tuple(items)
    return tuple(wire_ids.to_wire(item) for item in items)
