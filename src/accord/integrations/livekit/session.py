"""``RealtimeSession``: LiveKit's realtime-session interface over accord's session.

LiveKit's ``AgentActivity`` drives this object: it pushes contexts, asks for replies,
streams audio, interrupts and truncates, and listens to the events named in
``livekit.agents.llm.realtime`` (generation created, speech started and stopped, input
transcription, remote item added, errors, reconnected, metrics). Underneath is one
:class:`accord.session.RealtimeSession`; this class only translates. LiveKit calls it
synchronously, before the connection is up, so calls made early wait for the
connection (in call order); the events accord's session yields are turned into
LiveKit's by one task (:mod:`.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Literal

from livekit import rtc
from livekit.agents import llm
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.utils import is_given
from livekit.plugins.openai.realtime.utils import (
    to_audio_transcription,
    to_noise_reduction,
    to_turn_detection,
)

from accord.client.transport import Endpoint, Transport, WebSocketTransport
from accord.engine.events import PushReport
from accord.errors import ConnectionLost, SessionClosed
from accord.integrations.livekit import options as opt
from accord.integrations.livekit.audio import AudioInput
from accord.integrations.livekit.convert import is_conversation_item
from accord.integrations.livekit.events import EventBridge
from accord.integrations.livekit.observed import Observations
from accord.integrations.livekit.sync import push
from accord.items import Message
from accord.journal.store import open_journal
from accord.session import RealtimeSession as AccordSession
from accord.session import SessionOptions

log = logging.getLogger("accord.integrations.livekit")

WAIT_TIMEOUT = 10.0  # a reply or a push unanswered this long fails (LiveKit's own limit)
FIRST_RETRY_DELAY = 0.1  # the first connection retry comes at once, later ones paced
ExtraEvents = Literal["accord_push_report"]
PUSH_REPORT: ExtraEvents = "accord_push_report"  # the extra event: each push's report


class UnsupportedInputError(NotImplementedError):
    """Input this model does not take (video)."""


class RealtimeSession(llm.RealtimeSession[ExtraEvents]):
    """One conversation, kept in agreement with the server by accord."""

    def __init__(self, realtime_model: llm.RealtimeModel, options: opt.Options) -> None:
        # Typed with LiveKit's base class: accord's RealtimeModel (model.py) creates this
        # session, so naming it here would close an import circle.
        super().__init__(realtime_model)
        self._model = realtime_model
        self._opts = options
        self._capabilities = replace(
            realtime_model.capabilities, turn_detection=opt.turn_taking(options.turn_detection)
        )
        self._tools = llm.ToolContext.empty()
        self._instructions: str | None = None
        self.observations = Observations()
        self._audio = AudioInput()
        self._accord: AccordSession | None = None
        self._early: list[Callable[[AccordSession], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[AccordSession] = loop.create_future()
        self._bridge = EventBridge(self)
        self._main = asyncio.create_task(self._run(), name="accord.livekit.session")

    # -- connection ------------------------------------------------------------------------

    @property
    def accord_session(self) -> AccordSession | None:
        """The accord session underneath (None until connected): its report, its mirror."""
        return self._accord

    @property
    def options(self) -> opt.Options:
        return self._opts

    async def _run(self) -> None:
        connecting = asyncio.ensure_future(self._connect())
        try:
            session = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # Closed while connecting: a session that opened anyway is closed, not leaked.
            connecting.cancel()
            connecting.add_done_callback(_close_if_opened)
            raise
        except Exception as exc:
            failure = llm.RealtimeError(f"could not connect: {exc}")
            if not self._ready.done():
                self._ready.set_exception(failure)
                self._ready.exception()  # retrieved: the error event reports it
            self._bridge.fatal(exc)
            return
        self._accord = session
        early, self._early = self._early, []
        for call in early:
            self._when_connected(call)
        self._ready.set_result(session)
        await self._bridge.run(session)

    async def _connect(self) -> AccordSession:
        """Open accord's session, retrying the first connection as LiveKit's plugin does
        (``conn_options``); later drops are accord's to reconnect and restore."""
        conn = self._opts.conn_options
        target = opt.endpoint(self._opts)
        options = SessionOptions(
            wait_timeout=WAIT_TIMEOUT,
            max_reconnect_attempts=max(1, conn.max_retry),
            backoff_max=max(conn.retry_interval, 0.2),
            transport_factory=_dialer(target, conn.timeout),
        )
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                session = await self._open(target.url, options)
            except ConnectionLost as lost:
                if lost.final or attempt >= conn.max_retry:
                    raise
                attempt += 1
                self._bridge.recoverable(lost)
                await asyncio.sleep(FIRST_RETRY_DELAY if attempt == 1 else conn.retry_interval)
                continue
            self._report_connection_acquired(time.perf_counter() - started)
            return session

    async def _open(self, url: str, options: SessionOptions) -> AccordSession:
        """A new conversation, or, with a journal whose key holds one, the journaled
        conversation resumed on a new server session (a job dispatched again)."""
        config = opt.session_config(self._opts)
        key = self._opts.journal_key
        store = None if self._opts.journal is None else open_journal(self._opts.journal)
        common: dict[str, Any] = {"model": self._opts.model, "options": options}
        if store is not None and key is not None and store.load(key):
            return await AccordSession.resume(
                url, journal=store, key=key, api_key=None, session=config, **common
            )
        return await AccordSession.connect(
            url, api_key=None, session=config, journal=store, key=key, **common
        )

    async def _session(self) -> AccordSession:
        if self._closed:
            raise llm.RealtimeError("the session is closed")
        return await asyncio.shield(self._ready)

    def _when_connected(self, call: Callable[[AccordSession], None]) -> None:
        """Run ``call`` now, or once connected (early calls keep their order). LiveKit
        calls these from its audio and speech loops, which must not die of a session
        that is over: such a call is dropped, as LiveKit's plugin drops its events."""
        if self._closed:
            return
        if self._accord is None:
            self._early.append(call)
            return
        try:
            call(self._accord)
        except (SessionClosed, ConnectionLost) as exc:
            log.debug("call dropped, the session is over: %s", exc)

    def _spawn(self, work: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run ``work()`` in the background, in call order (tasks start FIFO), for a
        synchronous LiveKit call whose effect needs a round trip."""

        async def run() -> None:
            try:
                await work()
            except Exception as exc:
                log.warning("%s failed: %s", what, exc)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what LiveKit reads ----------------------------------------------------------------

    @property
    def capabilities(self) -> llm.RealtimeCapabilities:
        return self._capabilities

    @property
    def chat_ctx(self) -> llm.ChatContext:
        """The conversation as it will be once every pending operation lands; each item
        remembers this snapshot, so a context copied from it pushes with it as its base."""
        if self._accord is None:
            return llm.ChatContext.empty()
        return self.observations.snapshot(self._accord.chat_ctx)

    @property
    def tools(self) -> llm.ToolContext:
        return self._tools.copy()

    # -- the conversation ------------------------------------------------------------------

    async def update_chat_ctx(self, chat_ctx: llm.ChatContext) -> None:
        """Push LiveKit's context through accord's three-way merge (base derived as in
        :mod:`.observed`), then write the result back into ``chat_ctx``."""
        await self.push_chat_ctx(chat_ctx)

    async def push_chat_ctx(
        self, chat_ctx: llm.ChatContext, *, explicit_replace: bool = False
    ) -> PushReport:
        """:meth:`update_chat_ctx` returning accord's report (also emitted as
        ``accord_push_report``)."""
        session = await self._session()
        try:
            outcome = await push(
                session, self.observations, chat_ctx, explicit_replace=explicit_replace
            )
        except Exception as exc:
            raise llm.RealtimeError(f"update_chat_ctx failed: {exc}") from exc
        if outcome.report.failed:
            log.warning("part of a chat context update was refused: %s", outcome.report.failed)
        self.emit(PUSH_REPORT, outcome.report)
        return outcome.report

    async def _update_session(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        chat_ctx: NotGivenOr[llm.ChatContext] = NOT_GIVEN,
        tools: NotGivenOr[list[llm.Tool]] = NOT_GIVEN,
    ) -> None:
        """An activity (re)starting on this session (the session's first agent, or the
        next one after a handoff). An empty context is LiveKit asking for a fresh
        conversation (a handoff to an agent without history): an explicit replace, which
        still never deletes an item in flight. Any other context (the history handed
        over) is merged like every push: it deletes only what it held and dropped.
        LiveKit hands over a read-only view of the agent's context here, so what the
        merge kept (the output of the call that handed over, say) reaches that agent's
        context with its next push, not this one."""
        if is_given(instructions):
            try:
                await self.update_instructions(instructions)
            except llm.RealtimeError:
                log.exception("failed to update the instructions")
        if is_given(chat_ctx):
            fresh = not any(is_conversation_item(item) for item in chat_ctx.items)
            try:
                await self.push_chat_ctx(chat_ctx, explicit_replace=fresh)
            except llm.RealtimeError:
                log.exception("failed to update the chat context")
        if is_given(tools):
            try:
                await self.update_tools(tools)
            except llm.RealtimeError:
                log.exception("failed to update the tools")

    async def update_instructions(self, instructions: str) -> None:
        self._instructions = instructions
        session = await self._session()
        await _as_realtime_error(session.update_instructions(instructions), "instructions")

    async def update_tools(self, tools: list[llm.Tool]) -> None:
        schemas, kept = opt.tool_schemas(tools)
        session = await self._session()
        await _as_realtime_error(session.update_tools(schemas), "tools")
        self._tools = llm.ToolContext(kept)

    def update_options(
        self,
        *,
        tool_choice: NotGivenOr[llm.ToolChoice | None] = NOT_GIVEN,
        voice: NotGivenOr[str] = NOT_GIVEN,
        turn_detection: NotGivenOr[Any] = NOT_GIVEN,
        max_response_output_tokens: NotGivenOr[int | Literal["inf"] | None] = NOT_GIVEN,
        input_audio_transcription: NotGivenOr[Any] = NOT_GIVEN,
        input_audio_noise_reduction: NotGivenOr[Any] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        tracing: NotGivenOr[Any] = NOT_GIVEN,
        truncation: NotGivenOr[Any] = NOT_GIVEN,
        reasoning: NotGivenOr[Any] = NOT_GIVEN,
    ) -> None:
        """Change this session's options; what changed goes out in one session.update."""
        opts = self._opts
        fields: dict[str, Any] = {}
        if is_given(tool_choice) and opt.tool_choice_field(tool_choice) != opt.tool_choice_field(
            opts.tool_choice
        ):
            fields["tool_choice"] = opt.tool_choice_field(tool_choice)
        if is_given(tool_choice):
            opts.tool_choice = tool_choice
        audio_in: dict[str, Any] = {}
        audio_out: dict[str, Any] = {}
        if is_given(voice) and voice != opts.voice:
            opts.voice = voice
            audio_out["voice"] = voice
        if is_given(speed) and speed != opts.speed:
            opts.speed = speed
            audio_out["speed"] = speed
        if is_given(turn_detection):
            turns = to_turn_detection(turn_detection)
            if turns != opts.turn_detection:
                opts.turn_detection = turns
                self._capabilities.turn_detection = opt.turn_taking(turns)
                audio_in["turn_detection"] = opt.dump(turns)
        if is_given(input_audio_transcription):
            transcription = to_audio_transcription(input_audio_transcription)
            if transcription != opts.input_audio_transcription:
                opts.input_audio_transcription = transcription
                self._capabilities.user_transcription = transcription is not None
                audio_in["transcription"] = opt.dump(transcription)
        if is_given(input_audio_noise_reduction):
            reduction = to_noise_reduction(input_audio_noise_reduction)
            if reduction != opts.input_audio_noise_reduction:
                opts.input_audio_noise_reduction = reduction
                audio_in["noise_reduction"] = opt.dump(reduction)
        if is_given(max_response_output_tokens) and (
            max_response_output_tokens != opts.max_response_output_tokens
        ):
            opts.max_response_output_tokens = max_response_output_tokens
            fields["max_output_tokens"] = max_response_output_tokens
        for name, value in (
            ("tracing", tracing),
            ("truncation", truncation),
            ("reasoning", reasoning),
        ):
            if is_given(value) and value != getattr(opts, name):
                setattr(opts, name, value)
                fields[name] = opt.dump(value)
        if audio_in or audio_out:
            fields["audio"] = {
                **({"input": audio_in} if audio_in else {}),
                **({"output": audio_out} if audio_out else {}),
            }
        if fields:
            self._spawn(lambda: self._update_fields(fields), "update_options")

    async def _update_fields(self, fields: dict[str, Any]) -> None:
        session = await self._session()
        await session.update_session(**fields)

    # -- replies ---------------------------------------------------------------------------

    def generate_reply(
        self,
        *,
        instructions: NotGivenOr[str] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        tools: NotGivenOr[list[llm.Tool]] = NOT_GIVEN,
    ) -> asyncio.Future[llm.GenerationCreatedEvent]:
        """Ask for a reply through accord's response slot; the future resolves when the
        server created it (``user_initiated``). ``tool_choice``/``tools`` given here are
        set on the session first (this model does not scope them to one response)."""
        text = instructions if is_given(instructions) else None
        if text is not None and self._instructions:
            # A response's instructions replace the session's: keep both, as LiveKit does.
            text = f"{self._instructions}\n{text}"
        future = self._bridge.expect_reply()
        fields: dict[str, Any] = {}
        if is_given(tool_choice):
            fields["tool_choice"] = opt.tool_choice_field(tool_choice)
        if is_given(tools):
            fields["tools"] = opt.tool_schemas(tools)[0]
        self._spawn(lambda: self._request_reply(future, text, fields), "generate_reply")
        return future

    async def _request_reply(
        self,
        future: asyncio.Future[llm.GenerationCreatedEvent],
        instructions: str | None,
        fields: dict[str, Any],
    ) -> None:
        tag = self._bridge.tag_of(future)
        try:
            session = await self._session()
            if fields:
                await session.update_session(**fields)
            await session.generate_reply(
                instructions=instructions, metadata=self._bridge.metadata(tag)
            )
        except Exception as exc:
            self._bridge.reply_failed(tag, exc)

    def interrupt(self) -> None:
        """Cancel the reply being generated, if any (LiveKit truncates separately)."""
        self._when_connected(lambda s: s.interrupt(truncate=False))

    def truncate(
        self,
        *,
        message_id: str,
        modalities: list[Literal["text", "audio"]],
        audio_end_ms: int,
        audio_transcript: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        """Cut an assistant message where the user stopped hearing it: its audio at
        ``audio_end_ms`` (0: nothing was heard, so it is deleted), or, for text, its
        content to what was shown. accord's engine pairs a cut with cancelling the
        in-band response, as a barge-in does; LiveKit truncates right after it
        interrupted, so there is nothing left to cancel then."""
        if "audio" in modalities:
            if is_given(audio_transcript):
                self._will_record(message_id, audio_transcript)
            played = max(0, audio_end_ms)
            self._when_connected(
                lambda s: s.interrupt(
                    played_ms=played, item_id=self.observations.resolve(message_id)
                )
            )
        elif is_given(audio_transcript):
            self._spawn(lambda: self._cut_text(message_id, audio_transcript), "truncate")

    def _will_record(self, message_id: str, heard: str) -> None:
        """LiveKit records a cut spoken message with the text it played, which is not the
        server's cut (accord cuts the transcript in proportion): make that version known,
        so a later push of it is not read as an edit."""
        if self._accord is None:
            return
        held = self._accord.chat_ctx.get(self.observations.resolve(message_id))
        if isinstance(held, Message):
            self.observations.shown(replace(held, id=message_id, content=heard, interrupted=True))

    async def _cut_text(self, message_id: str, shown: str) -> None:
        """A text reply interrupted while shown: rewrite it to what was shown (accord's
        own edit of its own snapshot, so its base is exact)."""
        session = await self._session()
        ctx = session.chat_ctx
        held = ctx.get(self.observations.resolve(message_id))
        if not isinstance(held, Message):
            return
        cut = replace(held, content=shown, interrupted=True)
        self.observations.shown(replace(cut, id=message_id))  # what LiveKit records
        ctx.replace(cut)
        report = await session.update_chat_ctx(ctx)
        self.observations.aliases.update(report.aliased)
        self.emit(PUSH_REPORT, report)

    # -- audio and video -------------------------------------------------------------------

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        pcm = self._audio.pcm(frame)
        if pcm:
            self._when_connected(lambda s: s.push_audio(pcm))

    def push_video(self, frame: rtc.VideoFrame) -> None:
        raise UnsupportedInputError(
            "accord's RealtimeModel takes no video: leave the room's video input off "
            "(RoomOptions(video_input=False), the default)"
        )

    def commit_audio(self) -> None:
        if self._audio.committable():
            self._audio.reset()
            self._when_connected(lambda s: s.commit_audio())

    def clear_audio(self) -> None:
        self._audio.reset()
        self._when_connected(lambda s: s.clear_audio())

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if not self._ready.done():
            self._ready.set_exception(llm.RealtimeError("the session was closed"))
            self._ready.exception()
        self._bridge.close()
        if self._accord is not None:
            await self._accord.aclose()
        self._main.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._main


_CLOSING: set[asyncio.Task[None]] = set()  # sessions closed in the background


def _close_if_opened(connecting: asyncio.Future[AccordSession]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        task = asyncio.ensure_future(connecting.result().aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)


def _dialer(target: Endpoint, timeout: float) -> Callable[[Endpoint], Awaitable[Transport]]:
    """Dial ``target`` (LiveKit's URL rules and headers: Azure's included) whatever
    endpoint accord's session computed from its own arguments."""

    async def dial(_ignored: Endpoint) -> Transport:
        return await WebSocketTransport.open(target, open_timeout=timeout)

    return dial


async def _as_realtime_error(work: Awaitable[None], what: str) -> None:
    try:
        await work
    except llm.RealtimeError:
        raise
    except Exception as exc:
        raise llm.RealtimeError(f"updating the {what} failed: {exc}") from exc
