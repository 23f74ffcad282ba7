"""accord's session events -> the events LiveKit's ``AgentActivity`` listens to.

One task reads ``session.events()`` in order and emits, on the LiveKit session:
``generation_created`` (every in-band response: the ones LiveKit asked for carry
``user_initiated`` and resolve its ``generate_reply`` future; the server's own, after a
VAD turn, do not), ``input_speech_started`` / ``input_speech_stopped``,
``input_audio_transcription_completed``, ``remote_item_added``, ``error``,
``session_reconnected`` and ``metrics_collected``. Along the way it tells
:class:`~.observed.Observations` what LiveKit was shown and when LiveKit's agent
context took an item in.

A reply LiveKit asked for is matched to its response by a tag in the response's
metadata (echoed by ``response.created``), never by order: the server starts responses
of its own at any time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from livekit.agents import APIConnectionError, APIError, llm

from accord.client import events as app
from accord.integrations.livekit.convert import from_livekit, to_livekit
from accord.integrations.livekit.generation import LiveKitGeneration
from accord.integrations.livekit.observed import Observations
from accord.integrations.livekit.options import Options
from accord.protocol import error_codes as codes
from accord.protocol.metadata import LIVEKIT_REQUEST_TAG
from accord.session import RealtimeSession as AccordSession

log = logging.getLogger("accord.integrations.livekit")

# Errors accord resolves itself: a busy refusal it retries (R14), a cancel of a response
# already over (R15), the server's VAD having committed the buffer first.
HANDLED_CODES = frozenset({codes.BUSY, codes.CANCEL_NOT_ACTIVE, codes.COMMIT_EMPTY})

Reply = asyncio.Future[llm.GenerationCreatedEvent]


class BridgeOwner(Protocol):
    """What the bridge needs of the LiveKit session it serves
    (:class:`accord.integrations.livekit.session.RealtimeSession`, which creates the
    bridge: named structurally so that this module does not import it back)."""

    observations: Observations

    @property
    def options(self) -> Options: ...
    @property
    def realtime_model(self) -> llm.RealtimeModel: ...
    def emit(self, event: Any, /, *args: Any) -> None: ...


class EventBridge:
    """The pump from accord's events to LiveKit's, and the replies LiveKit waits for."""

    def __init__(self, owner: BridgeOwner) -> None:
        self._owner = owner
        self._counter = itertools.count(1)
        self._pending: dict[str, Reply] = {}
        self._tags: dict[int, str] = {}
        self._discarded: set[str] = set()
        self._watchers: set[asyncio.Task[None]] = set()
        self._turn_started: dict[str, float] = {}  # spoken item -> when its speech began
        self._handlers: dict[type[Any], Callable[[AccordSession, Any], None]] = {
            app.InputSpeechStarted: self._speech_started,
            app.InputSpeechStopped: self._speech_stopped,
            app.InputTranscriptCompleted: self._transcript,
            app.InputTranscriptFailed: self._transcript_failed,
            app.RemoteItemAdded: self._remote_item,
            app.GenerationStarted: self._generation,
            app.ServerErrorEvent: self._server_error,
            app.Reconnected: self._reconnected,
            app.Disconnected: self._disconnected,
        }

    # -- replies LiveKit asked for ---------------------------------------------------------

    def expect_reply(self) -> Reply:
        tag = f"lk{next(self._counter)}"
        future: Reply = asyncio.get_running_loop().create_future()
        self._pending[tag] = future
        self._tags[id(future)] = tag
        future.add_done_callback(lambda f: self._settled(tag, f))
        return future

    def tag_of(self, future: Reply) -> str:
        return self._tags[id(future)]

    @staticmethod
    def metadata(tag: str) -> dict[str, str]:
        return {LIVEKIT_REQUEST_TAG: tag}

    def _settled(self, tag: str, future: Reply) -> None:
        self._tags.pop(id(future), None)
        if self._pending.pop(tag, None) is not None and future.cancelled():
            # LiveKit gave up before the server created it: cancel it when it comes.
            self._discarded.add(tag)

    def reply_failed(self, tag: str, exc: BaseException) -> None:
        """LiveKit's reply failed (refused, timed out, connection lost): should its
        response come after all, it is cancelled, not played as a new turn."""
        self._discarded.add(tag)
        future = self._pending.pop(tag, None)
        if future is not None and not future.done():
            code = getattr(exc, "code", None)
            future.set_exception(llm.RealtimeError(f"generate_reply failed: {exc}", code=code))

    def close(self) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(llm.RealtimeError("realtime session closed"))
        self._pending.clear()
        for task in list(self._watchers):
            task.cancel()

    # -- the pump --------------------------------------------------------------------------

    async def run(self, session: AccordSession) -> None:
        async for event in session.events():
            handler = self._handlers.get(type(event))
            if handler is None:
                continue
            try:
                handler(session, event)
            except Exception:
                log.exception("handling %s failed", type(event).__name__)
        self.close()

    def _speech_started(self, session: AccordSession, event: app.InputSpeechStarted) -> None:
        self._turn_started[event.item_id] = time.time()
        self._owner.emit("input_speech_started", llm.InputSpeechStartedEvent())

    def _speech_stopped(self, session: AccordSession, event: app.InputSpeechStopped) -> None:
        enabled = self._owner.options.input_audio_transcription is not None
        self._owner.emit(
            "input_speech_stopped", llm.InputSpeechStoppedEvent(user_transcription_enabled=enabled)
        )

    def _transcript(self, session: AccordSession, event: app.InputTranscriptCompleted) -> None:
        observations = self._owner.observations
        item = session.chat_ctx.get(event.item_id)
        if item is not None:
            observations.shown(item)
        observations.seen(event.item_id)  # LiveKit records the user's turn right now
        self._owner.emit(
            "input_audio_transcription_completed",
            llm.InputTranscriptionCompleted(
                item_id=event.item_id,
                transcript=event.transcript,
                is_final=True,
                # LiveKit places the user's turn where it began, not where its (late)
                # transcript arrived, so it stays before the reply it prompted.
                turn_started_at=self._turn_started.pop(event.item_id, None),
            ),
        )

    def _transcript_failed(self, session: AccordSession, event: app.InputTranscriptFailed) -> None:
        self._turn_started.pop(event.item_id, None)
        log.warning("transcription of %s failed: %s", event.item_id, event.message)

    def _remote_item(self, session: AccordSession, event: app.RemoteItemAdded) -> None:
        observations = self._owner.observations
        observations.shown(event.item)
        lk_item = to_livekit(event.item, created_at=observations.first_met[event.item.id])
        self._owner.emit(
            "remote_item_added",
            llm.RemoteItemAddedEvent(previous_item_id=event.previous_item_id, item=lk_item),
        )

    def _generation(self, session: AccordSession, event: app.GenerationStarted) -> None:
        generation = event.generation
        if generation.out_of_band:
            return  # accord's own (a summary): never LiveKit's
        tag = generation.metadata.get(LIVEKIT_REQUEST_TAG)
        if tag is not None and tag in self._discarded:
            self._discarded.discard(tag)
            session.interrupt(truncate=False)
            return
        future = self._pending.pop(tag, None) if tag is not None else None
        observations = self._owner.observations

        def call_pulled(call: llm.FunctionCall) -> None:
            observations.shown(from_livekit(call))
            observations.seen(call.id)

        def message_read(item_id: str) -> None:
            item = session.chat_ctx.get(item_id)
            if item is not None:
                observations.shown(item)
            observations.seen(item_id)

        lk_generation = LiveKitGeneration(
            generation,
            user_initiated=future is not None,
            audio_output=self._owner.options.output_modality == "audio",
            on_call_pulled=call_pulled,
            on_message_read=message_read,
        )
        if future is not None and not future.done():
            future.set_result(lk_generation.event)
        self._owner.emit("generation_created", lk_generation.event)
        watcher = asyncio.ensure_future(self._measure(lk_generation))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _measure(self, generation: LiveKitGeneration) -> None:
        await generation.generation.wait()
        model = self._owner.realtime_model
        self._owner.emit(
            "metrics_collected",
            generation.metrics(label=model.label, model=model.model, provider=model.provider),
        )

    def _server_error(self, session: AccordSession, event: app.ServerErrorEvent) -> None:
        if event.code in HANDLED_CODES:
            log.debug("server error handled by accord: %s %s", event.code, event.message)
            return
        body = {"code": event.code, "message": event.message, "event_id": event.event_id}
        self._emit_error(APIError(f"server error: {event.message}", body=body), True)

    def _reconnected(self, session: AccordSession, event: app.Reconnected) -> None:
        if event.lost:
            log.warning("reconnected; spoken turns never transcribed were lost: %s", event.lost)
        self._owner.emit("session_reconnected", llm.RealtimeSessionReconnectedEvent())

    def _disconnected(self, session: AccordSession, event: app.Disconnected) -> None:
        error = APIConnectionError(f"connection lost: {event.reason}")
        self._emit_error(error, event.will_reconnect)

    def recoverable(self, exc: BaseException) -> None:
        self._emit_error(APIConnectionError(f"connecting failed, retrying: {exc}"), True)

    def fatal(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, Exception) else APIConnectionError(str(exc))
        self._emit_error(error, False)
        self.close()

    def _emit_error(self, error: Exception, recoverable: bool) -> None:
        self._owner.emit(
            "error",
            llm.RealtimeModelError(
                timestamp=time.time(),
                label=self._owner.realtime_model.label,
                error=error,
                recoverable=recoverable,
            ),
        )
