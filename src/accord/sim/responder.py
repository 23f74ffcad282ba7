"""One response, streamed in the real server's event order.

docs/protocol-notes.md, "Responses": ``response.created`` -> per output item
``response.output_item.added`` -> ``conversation.item.added`` ->
``response.content_part.added`` -> deltas -> their ``.done`` events ->
``response.content_part.done`` -> ``conversation.item.done`` ->
``response.output_item.done`` -> ``response.done`` -> (sometimes) ``rate_limits.updated``.
Items of one response interleave: the next item is added right after the previous one's
first delta; on gpt-realtime-2.x, as recorded, once the previous one's deltas are all sent,
and the previous one is finished only after the next one's deltas. Spoken text becomes
PCM16 audio whose length follows the text, so truncation and barge-in act on real positions.
MCP items stream through sim/mcp_output.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from accord.items import FunctionCall, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerEvent,
    WireResponse,
)
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.errors import ServerError, server_error
from accord.sim.events import EventIds, ItemStatus, Outgoing, error_event
from accord.sim.frames import announced_json, encoded, item_json, part_json, response_json
from accord.sim.mcp_output import McpOutput
from accord.sim.model import (
    PlannedApproval,
    PlannedCall,
    PlannedMcpCall,
    PlannedOutput,
    PlannedText,
)
from accord.sim.store import ConversationStore
from accord.sim.tokens import ASSISTANT_AUDIO_MS_PER_TOKEN, ZERO, Count, text_tokens, usage

log = logging.getLogger("accord.sim")

Status = Literal["completed", "cancelled", "incomplete", "failed"]


@dataclass
class ResponseSpec:
    """What was asked: in-band or not, output modalities, metadata to echo.

    ``audio_settings`` is the response object's ``audio`` (the output format and voice in
    force, recorded in every response.created / response.done). ``failure``: the model
    could not plan the response; it fails as soon as it starts. ``session_id`` and
    ``event_id`` (the request's) go into the ``server_error`` a failure sends.
    """

    response_id: str
    out_of_band: bool
    audio: bool
    metadata: dict[str, str] | None
    plan: list[PlannedOutput]
    conversation_id: str | None = None
    audio_settings: dict[str, Any] = field(default_factory=dict)
    session_id: str = ""
    event_id: str | None = None
    failure: Exception | None = None
    phases: bool = False  # assistant messages carry ``phase`` (gpt-realtime-2.x)
    # What the model read (sim/context_window.py): the input and cached tokens ``usage``
    # reports, and the context overflow that fails the response (truncation disabled).
    input_tokens: Count = ZERO
    cached_tokens: Count = ZERO
    overflow: ServerError | None = None


@dataclass
class _Output:
    """One output item being streamed."""

    index: int
    item: Item
    pcm: bytes = b""
    sent_chars: int = 0
    sent_ms: int = 0
    begun: bool = False
    done: bool = False
    reported: dict[str, Any] | None = None  # the item as its output_item.done reported it
    # What its conversation.item.added said: the previous item, and whether that was the
    # conversation's first item (then the real server's .done says null, rule R11).
    added_previous: str | None = None
    after_first: bool = False
    phase: str | None = None  # an assistant message's ``phase`` (gpt-realtime-2.x only)

    def wire(self, item: Item, status: ItemStatus | None) -> dict[str, Any]:
        """``item`` as this output reports it in server events (JSON values)."""
        # Recorded (gpt-realtime-2.1): ``phase`` on every assistant message, after content.
        return item_json(item, status, self.phase)

    def empty(self) -> dict[str, Any]:
        return announced_json(self.item, self.phase)


@dataclass
class ResponseRun:
    """Streams one response through ``emit``; cancel the task to cancel the response."""

    spec: ResponseSpec
    store: ConversationStore
    config: SimConfig
    ids: EventIds
    emit: Callable[[Outgoing], None]
    new_item_id: Callable[[str], str]
    anchor_override: Callable[[], str | None] = lambda: None
    # Whether no other response is streaming: rate_limits.updated is never sent while
    # one is (recorded, rule R15).
    others_quiet: Callable[[], bool] = lambda: True
    outputs: list[_Output | McpOutput] = field(default_factory=list)
    status: Status = "completed"
    cancel_reason: str = "client_cancelled"
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    failure: ServerError | None = None  # what a failed response reported
    created: bool = False  # response.created has been emitted
    after_created: list[ServerEvent] = field(default_factory=list)  # sent after .created
    deferred: list[ServerEvent] = field(default_factory=list)  # sent after response.done
    cancel_on_start: bool = False
    cancelling: bool = False  # a cancel was asked for; response.done is on its way
    then: list[Callable[[], object]] = field(default_factory=list)  # after response.done

    @property
    def in_band(self) -> bool:
        return not self.spec.out_of_band

    @property
    def response_id(self) -> str:
        return self.spec.response_id

    @property
    def delta_chars(self) -> int:
        return self.config.delta_chars

    @property
    def pause_s(self) -> float:
        return self.config.stream_pause_ms / 1000.0

    @property
    def done_for_cancelled(self) -> bool:
        return self.config.quirks.done_for_cancelled_items

    def cancel(self, reason: str) -> None:
        """Cancel the response; it still ends with ``response.done`` (always sent).

        Before ``response.created`` the task may not have taken its first step, and a task
        cancelled then never runs its body: no ``response.done`` would be sent and the
        session's response slot would stay taken for good. So a cancel that comes that
        early takes effect right after ``response.created``.
        """
        self.cancel_reason = reason
        self.cancelling = True
        if not self.created:
            self.cancel_on_start = True
        elif self.task is not None and not self.task.done():
            self.task.cancel()

    async def run(self) -> None:
        self.emit(encoded(ResponseCreated, self.ids.next(), response=self._response("in_progress")))
        self.created = True
        for event in self.after_created:
            self.emit(event)
        self.after_created.clear()
        try:
            if self.cancel_on_start:
                self.status = "cancelled"
            elif self.spec.overflow is not None:
                # Assumed: a context overflow is reported in the failed response.done
                # alone (status_details.error), with no separate error event.
                self.status = "failed"
                self.failure = self.spec.overflow
            elif self.spec.failure is not None:
                raise self.spec.failure
            else:
                await self._stream_all()
        except asyncio.CancelledError:
            self.status = "cancelled"
            self._finish_begun()
        except Exception:
            # A bug here used to end the task silently: no response.done, the client
            # waiting for good and the session's response slot taken. The real server
            # answers an internal failure with server_error (observed, sim/errors.py);
            # that it then sends response.done with status failed is assumed (the
            # documented status for "an error occurred"), as is the order error-first.
            log.exception("simulator: response %s failed", self.spec.response_id)
            self.status = "failed"
            self.failure = server_error(self.spec.session_id, self.spec.event_id)
            self._finish_begun()
            self.emit(error_event(self.ids, self.failure))
        finally:
            self._done()

    def _finish_begun(self) -> None:
        for out in self.outputs:
            if out.begun and not out.done:
                self._finish(out, "incomplete")

    async def _stream_all(self) -> None:
        self.outputs = [self._prepare(i, p) for i, p in enumerate(self.spec.plan)]
        if self.spec.phases:
            await self._stream_overlapped()
            return
        for out in self.outputs:
            if not out.begun:
                self._begin(out)
            await self._stream(out)
            self._finish(out, "completed")

    async def _stream_overlapped(self) -> None:
        """gpt-realtime-2.x's order (recorded: the parity session, a preamble at index 0
        and a call at 1): the next item is added once this one's deltas are all sent, its
        deltas stream, and only then is this one finished (``output_text.done`` ...
        ``output_item.done``), so two items are open at once."""
        open_item: _Output | McpOutput | None = None
        for out in self.outputs:
            self._begin(out)
            await self._stream(out, begin_next=False)
            if open_item is not None:
                self._finish(open_item, "completed")
            open_item = out
        if open_item is not None:
            self._finish(open_item, "completed")

    # -- items --------------------------------------------------------------------------

    def _prepare(self, index: int, planned: PlannedOutput) -> _Output | McpOutput:
        if isinstance(planned, PlannedMcpCall | PlannedApproval):
            return McpOutput.planned(index, planned, self.new_item_id("item"))
        if isinstance(planned, PlannedCall):
            call = FunctionCall(
                id=self.new_item_id("item"),
                call_id=self.new_item_id("call"),
                name=planned.name,
                arguments=planned.arguments,
            )
            return _Output(index, call)
        assert isinstance(planned, PlannedText)
        pcm = (
            audio.synthesize(planned.text, ms_per_char=self.config.ms_per_char)
            if self.spec.audio
            else b""
        )
        message = Message(
            id=self.new_item_id("item"),
            role="assistant",
            content=planned.text,
            audio=self.spec.audio,
            # The whole item's audio length: the completed item is stored as it is (it
            # was 0, so a finished audio reply could never be truncated).
            audio_ms=self._server_ms(audio.duration_ms(pcm)) if self.spec.audio else None,
        )
        phase = (planned.phase or "final_answer") if self.spec.phases else None
        return _Output(index, message, pcm=pcm, phase=phase)

    def _server_ms(self, sent_ms: int) -> int:
        """The audio length the server holds for ``sent_ms`` of PCM sent: docs/protocol-notes.md,
        it can be ~85 ms shorter than what the client received."""
        return max(0, sent_ms - self.config.quirks.audio_shortfall_ms)

    def _partial(self, out: _Output) -> Item:
        """The item as far as it has been streamed."""
        item = out.item
        if isinstance(item, FunctionCall):
            return replace(item, arguments=item.arguments[: out.sent_chars])
        assert isinstance(item, Message)
        text = item.text[: out.sent_chars]
        if item.audio:
            return replace(item, content=text, audio_ms=self._server_ms(out.sent_ms))
        return replace(item, content=text)

    def _begin(self, out: _Output | McpOutput) -> None:
        if isinstance(out, McpOutput):
            out.begin(self)
            return
        out.begun = True
        rid = self.spec.response_id
        self.emit(
            encoded(
                ResponseOutputItemAdded,
                self.ids.next(),
                response_id=rid,
                output_index=out.index,
                item=out.empty(),
            )
        )
        if self.in_band:
            empty = self._partial(out)
            deleted_anchor = self.anchor_override()
            first = self.store.first_id()
            added = self.store.add_output_item(empty, rid, after=deleted_anchor)
            # Race R6 (docs/protocol-notes.md, "Seen in production"): the server names the item
            # it just confirmed deleted; the store places the item after that item's
            # surviving predecessor.
            out.added_previous = deleted_anchor or added.previous_item_id
            out.after_first = out.added_previous is not None and out.added_previous == first
            self.emit(
                encoded(
                    ConversationItemAdded,
                    self.ids.next(),
                    previous_item_id=out.added_previous,
                    item=out.wire(empty, "in_progress"),
                )
            )
        elif self.config.quirks.out_of_band_item_events:
            self.emit(
                encoded(
                    ConversationItemAdded,
                    self.ids.next(),
                    previous_item_id=None,
                    item=out.wire(self._partial(out), "in_progress"),
                )
            )
        if isinstance(out.item, Message):
            self.emit(
                encoded(
                    ResponseContentPartAdded,
                    self.ids.next(),
                    response_id=rid,
                    item_id=out.item.id,
                    output_index=out.index,
                    content_index=0,
                    part=part_json(out.item.audio, ""),
                )
            )

    async def _stream(self, out: _Output | McpOutput, *, begin_next: bool = True) -> None:
        if isinstance(out, McpOutput):
            await out.stream(self)
            return
        item = out.item
        text = item.arguments if isinstance(item, FunctionCall) else _text(item)
        step = max(1, self.config.delta_chars)
        first = True
        while out.sent_chars < len(text) or (out.pcm and out.sent_ms < audio.duration_ms(out.pcm)):
            chunk = text[out.sent_chars : out.sent_chars + step]
            out.sent_chars += len(chunk)
            if chunk:
                self._text_delta(out, chunk)
            if out.pcm:
                self._audio_delta(out)
            if self.in_band:
                self.store.update_output_item(self._partial(out))
            if first and begin_next:
                first = False
                nxt = out.index + 1
                if nxt < len(self.outputs):
                    self._begin(self.outputs[nxt])  # items of one response interleave
            await asyncio.sleep(self.config.stream_pause_ms / 1000.0)

    def _text_delta(self, out: _Output, chunk: str) -> None:
        rid, item = self.spec.response_id, out.item
        event_id = self.ids.next()
        if isinstance(item, FunctionCall):
            self.emit(
                encoded(
                    ResponseFunctionCallArgumentsDelta,
                    event_id,
                    response_id=rid,
                    item_id=item.id,
                    output_index=out.index,
                    call_id=item.call_id,
                    delta=chunk,
                    obfuscation=self.ids.obfuscation(),
                )
            )
            return
        spoken = isinstance(item, Message) and item.audio
        self.emit(
            encoded(
                ResponseOutputAudioTranscriptDelta if spoken else ResponseOutputTextDelta,
                event_id,
                response_id=rid,
                item_id=item.id,
                output_index=out.index,
                content_index=0,
                delta=chunk,
                obfuscation=self.ids.obfuscation(),
            )
        )

    def _audio_delta(self, out: _Output) -> None:
        total = audio.duration_ms(out.pcm)
        end = min(total, out.sent_ms + self.config.audio_delta_ms)
        start_byte, end_byte = out.sent_ms * audio.BYTES_PER_MS, end * audio.BYTES_PER_MS
        if end >= total:
            end_byte = len(out.pcm)
        payload = base64.b64encode(out.pcm[start_byte:end_byte]).decode("ascii")
        out.sent_ms = end
        self.emit(
            encoded(
                ResponseOutputAudioDelta,
                self.ids.next(),
                response_id=self.spec.response_id,
                item_id=out.item.id,
                output_index=out.index,
                content_index=0,
                delta=payload,
            )
        )

    def _finish(self, out: _Output | McpOutput, status: Literal["completed", "incomplete"]) -> None:
        if isinstance(out, McpOutput):
            out.finish(self, status)
            return
        out.done = True
        rid, item = self.spec.response_id, out.item
        final = item if status == "completed" else self._partial(out)
        common: dict[str, Any] = {"response_id": rid, "item_id": item.id, "output_index": out.index}
        if status == "completed":
            self._content_done(out, final, common)
        if self.in_band:
            self.store.update_output_item(final)
        wire = out.wire(final, status)
        out.reported = wire
        if self.in_band and (status == "completed" or self.config.quirks.done_for_cancelled_items):
            self.emit(
                encoded(
                    ConversationItemDone,
                    self.ids.next(),
                    # Recorded (all five sessions, rule R11): .done repeats .added's
                    # previous_item_id, except null when .added named the conversation's
                    # first item (it was null for every first output item, and the item
                    # the store held before it otherwise, which .added need not match).
                    previous_item_id=None if out.after_first else out.added_previous,
                    item=wire,
                )
            )
        self.emit(
            encoded(
                ResponseOutputItemDone,
                self.ids.next(),
                response_id=rid,
                output_index=out.index,
                item=wire,
            )
        )

    def _content_done(self, out: _Output, final: Item, common: dict[str, Any]) -> None:
        if isinstance(final, FunctionCall):
            self.emit(
                encoded(
                    ResponseFunctionCallArgumentsDone,
                    self.ids.next(),
                    **common,
                    call_id=final.call_id,
                    arguments=final.arguments,
                    name=final.name,
                )
            )
            return
        assert isinstance(final, Message)
        if final.audio:
            self.emit(encoded(ResponseOutputAudioDone, self.ids.next(), **common, content_index=0))
            self.emit(
                encoded(
                    ResponseOutputAudioTranscriptDone,
                    self.ids.next(),
                    **common,
                    content_index=0,
                    transcript=final.text,
                )
            )
        else:
            self.emit(
                encoded(
                    ResponseOutputTextDone,
                    self.ids.next(),
                    **common,
                    content_index=0,
                    text=final.text,
                )
            )
        part = part_json(final.audio, final.text)
        self.emit(
            encoded(ResponseContentPartDone, self.ids.next(), **common, content_index=0, part=part)
        )

    # -- the end ------------------------------------------------------------------------

    def _done(self) -> None:
        if self.in_band:
            self.store.finish_response(self.spec.response_id)
        # docs/protocol-notes.md ("Shapes in recorded sessions"): response.done.output equals the
        # output_item.done items in order, also when a cancel left an item completed
        # before it (that item was reported "incomplete" here before).
        output: list[Any] = [out.reported for out in self.outputs if out.reported is not None]
        used = usage(self.spec.input_tokens, self.spec.cached_tokens, self._output_tokens())
        details: dict[str, Any] | None = None
        if self.failure is not None:
            details = {
                "type": "failed",
                "error": {
                    "type": self.failure.type,
                    "code": self.failure.code,
                    "message": self.failure.message,
                },
            }
        elif self.status != "completed":
            details = {"type": self.status, "reason": self.cancel_reason}
        response = self._response(self.status, output=output, usage=used, status_details=details)
        if any(isinstance(out, McpOutput) for out in self.outputs):
            # MCP items are reported as models (sim/mcp_output.py): the model path.
            wire = WireResponse.model_validate(response)
            self.emit(ResponseDone(event_id=self.ids.next(), response=wire))
        else:
            self.emit(encoded(ResponseDone, self.ids.next(), response=response))
        if self.in_band and self.others_quiet():
            self.emit(
                encoded(
                    RateLimitsUpdated,
                    self.ids.next(),
                    # Recorded: one "tokens" entry (no "requests" entry in any session).
                    rate_limits=[
                        {
                            "name": "tokens",
                            "limit": 15_000_000,
                            "remaining": 15_000_000 - used["total_tokens"],
                            "reset_seconds": 0.004,
                        }
                    ],
                )
            )
        self.finished.set()

    def _output_tokens(self) -> Count:
        """What the response wrote (sim/tokens.py): its text, and spoken audio at one
        token per 50 ms."""
        text = sum(text_tokens(_streamed(out)) for out in self.outputs)
        audio_ms = sum(out.sent_ms for out in self.outputs)
        return Count(text, math.ceil(audio_ms / ASSISTANT_AUDIO_MS_PER_TOKEN))

    def _response(
        self,
        status: Literal["in_progress", "completed", "cancelled", "incomplete", "failed"],
        *,
        output: list[Any] | None = None,
        usage: dict[str, Any] | None = None,
        status_details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return response_json(
            self.spec.response_id,
            status,
            output=output or (),
            metadata=self.spec.metadata,
            conversation_id=self.spec.conversation_id,
            modalities=("audio",) if self.spec.audio else ("text",),
            usage=usage,
            status_details=status_details,
            audio=self.spec.audio_settings,
        )


def _streamed(out: _Output | McpOutput) -> str:
    if isinstance(out, McpOutput):
        return out.streamed_text()
    item = out.item
    full = item.arguments if isinstance(item, FunctionCall) else _text(item)
    return full[: out.sent_chars]


def _text(item: Item) -> str:
    return item.text if isinstance(item, Message) else ""
