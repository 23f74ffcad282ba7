"""RealtimeSession: the asyncio shell around the session core and its sync engine.

Three tasks move frames (reader, writer) and time (ticker); every decision is taken by
:class:`accord.client.core.SessionCore`, synchronously. Calls from any number of
application tasks go through that one core, so the engine sees a single queue of
inputs. Waiters (a push's report, a reply's generation, a session update) always end:
with a result, a :class:`RealtimeError`, :class:`ConnectionLost` or
:class:`OperationTimeout`. A dropped socket (or the 60-minute close) is reconnected
with backoff and restored, except after a bad key (3000) or model (4000). With a
journal (docs/journal.md) every step's changes are written before its frames are sent,
and :meth:`RealtimeSession.resume` restores them in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from accord import telemetry
from accord.client import events as app
from accord.client.connecting import Connecting
from accord.client.core import SessionCore, response_input
from accord.client.expiry import expires_at
from accord.client.generation import Generation, Generations
from accord.client.link import SessionLink, Swap
from accord.client.options import SessionOptions, TransportFactory
from accord.client.recording import Recorder, input_to_json
from accord.client.replies import fail_all, settle
from accord.client.rollover import CLEAR, COMMIT, Rollover
from accord.client.streaming import StreamEvent
from accord.client.transport import Endpoint, Transport
from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.errors import ConnectionLost, OperationTimeout, SessionClosed
from accord.items import ChatContext, Item
from accord.journal import CallFinished, CallStarted, JournalError, JournalStore, Record, attach
from accord.journal.hook import SessionJournal

log = logging.getLogger("accord.session")

_TIMED_OUT = "accord: the waiter timed out"  # the message of a timed-out waiter's cancel
_NO_CONTEXT = contextvars.Context()  # what the timer cancelling a waiter runs in

__all__ = ["RealtimeSession", "SessionOptions", "TransportFactory"]


class RealtimeSession(SessionLink):
    """One Realtime conversation kept in agreement with the server."""

    def __init__(
        self, endpoint: Endpoint, options: SessionOptions, session: dict[str, Any] | None
    ) -> None:
        self.endpoint = endpoint
        self.options = options
        engine_config = options.engine or EngineConfig(
            op_timeout=options.op_timeout, server_vad=True
        )
        self._events: asyncio.Queue[app.SessionEvent | None] = asyncio.Queue()
        self._push_waiters: dict[str, asyncio.Future[ev.PushReport]] = {}
        self._reports: dict[str, ev.PushReport] = {}
        self._update_waiters: dict[str, asyncio.Future[None]] = {}
        # generate_reply's waiters, by the event id of its response.create: the core says
        # a response started (GenerationStarted) or the request resolved (OpResolved),
        # and this shell ends the waiter, here and nowhere else.
        self._reply_waiters: dict[str, asyncio.Future[Generation]] = {}
        self._created_wall: float | None = None  # wall time of the last session.created
        self._generations = Generations()  # every response's streams: the shell's, not the core's
        self.core = SessionCore(
            engine_config=engine_config,
            seed=options.seed,
            session_config=session,
            on_event=self._on_event,
            on_effect=self._on_effect,
            on_stream=self._on_stream,
            strategy=options.strategy,
            max_frame_bytes=options.max_frame_bytes,
        )
        self.recorder = (
            Recorder.open(
                options.record,
                options.seed,
                audio=options.record_audio,
                session=session,
                strategy=options.strategy.name,
            )
            if options.record
            else None
        )
        # Telemetry (issue 21): OpenTelemetry spans and metrics when the otel extra is
        # installed; None otherwise, and then nothing of it is imported or done.
        self.telemetry = telemetry.attach(self.core, url=endpoint.url)
        self._outbox: asyncio.Queue[str | Swap | None] = asyncio.Queue()
        self._transport: Transport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tick_handle: asyncio.TimerHandle | None = None
        self._tick_context: contextvars.Context | None = None
        self._tick_callback: Callable[[], None] | None = None
        self._closed = False
        self._failure: BaseException | None = None
        self._loop = asyncio.get_event_loop()
        self.reconnects = 0
        self._attempts = 0
        self._delay = options.backoff_initial
        self._connected_at = float("-inf")
        self._reconnecting = False  # between a drop and the next connection (or giving up)
        self._journal: SessionJournal | None = None  # connect(journal=...) / resume
        self._session_id: str | None = None  # the server session's, from session.created
        self._retired: Transport | None = None
        self._restored: ev.Reconnected | None = None  # a rollover's, told at session.created
        self._rollover = (
            Rollover(options.rollover_margin_s, options.max_session_s) if options.rollover else None
        )

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        api_key: str | None = None,
        model: str = "gpt-realtime",
        azure_deployment: str | None = None,
        azure_api_version: str | None = None,
        session: dict[str, Any] | None = None,
        options: SessionOptions | None = None,
        journal: str | JournalStore | None = None,
        key: str | None = None,
        **option_fields: Any,
    ) -> Connecting[RealtimeSession]:
        """Connect to OpenAI (default), Azure OpenAI (``azure_deployment`` with the
        resource URL, ``azure_api_version`` for an ``?api-version=`` query) or any
        compatible ``url``; use as ``await`` or ``async with``.

        ``api_key`` defaults to ``OPENAI_API_KEY`` for OpenAI; it is sent in a header
        and never logged or recorded. ``session`` is the session configuration
        (instructions, tools, audio...) sent on every (re)connection.

        ``journal`` (``"sqlite:///x.db"``, ``"redis://host:port/0"``, a store): record
        the conversation under ``key`` (:attr:`key`, fresh when not given) for
        :meth:`resume` in another process (docs/journal.md)."""
        opts = options or SessionOptions(**option_fields)
        endpoint = Endpoint.choose(url, api_key, model, azure_deployment, azure_api_version)
        opened = cls(endpoint, opts, session)
        if journal is not None:
            opened._journal = SessionJournal(attach.start(journal, key), opened.core.engine)
        return Connecting(opened)

    @classmethod
    def resume(
        cls,
        url: str | None = None,
        *,
        journal: str | JournalStore,
        key: str,
        api_key: str | None = None,
        session: dict[str, Any] | None = None,
        **connect_args: Any,
    ) -> Connecting[RealtimeSession]:
        """Rebuild the conversation journaled under ``key`` in a new server session
        (``await`` or ``async with``; :meth:`connect`'s other arguments). A call whose
        tool was running runs again (idempotent tools) or is answered as interrupted;
        :class:`Resumed` says what was restored. ``session`` replaces the journaled
        configuration. docs/journal.md"""
        resuming = attach.resume(journal, key)
        config = resuming.config if session is None else session
        opening = cls.connect(url, api_key=api_key, session=config, **connect_args)
        new = opening.session
        new._journal = SessionJournal(resuming.writer, new.core.engine, resuming.plan)
        return opening

    @property
    def key(self) -> str | None:
        """The journal key this session records under (None: no journal)."""
        return None if self._journal is None else self._journal.key

    async def _open(self) -> RealtimeSession:
        self._transport = await self._dial()
        if self.recorder is not None:
            self.recorder.call("connect", self._now())
        plan = None if self._journal is None else self._journal.take_plan()
        if plan is not None:
            self.core.resume(plan, self._now())
        else:
            self.core.configure_after_connect(self._now(), restoring=False)
        self._flush_core()
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._write()),
        ]
        self._start_ticking()
        return self

    # -- reading the conversation -------------------------------------------------------

    @property
    def expires_at(self) -> float | None:
        """When the server session ends (Unix time, seconds), or None if unknown: the
        server's ``session.expires_at``, or ``max_session_s`` after it was created."""
        return expires_at(self.core.session_info, self.options.max_session_s, self._created_wall)

    @property
    def chat_ctx(self) -> ChatContext:
        """A snapshot of the conversation carrying its base: edit a copy and push it."""
        return self.core.engine.context()

    def events(self) -> AsyncIterator[app.SessionEvent]:
        """Everything the session has to tell, in order, until it is closed."""
        return self._iterate_events()

    async def _iterate_events(self) -> AsyncIterator[app.SessionEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    # -- editing the conversation -------------------------------------------------------

    async def update_chat_ctx(
        self, ctx: ChatContext, *, explicit_replace: bool = False
    ) -> ev.PushReport:
        """Push ``ctx``; return once every operation resolved (deferred ones listed)."""
        push_id, future = self._push(ctx, explicit_replace)
        # Not kept while the server answers: a context holds the whole conversation (a
        # list and an index of it), and with many sessions those outlived the young
        # collections and were walked by every older one (the caller lets go of it too).
        del ctx
        report: ev.PushReport = await self._wait(future, f"update_chat_ctx {push_id}")
        return report

    def _push(
        self, ctx: ChatContext, explicit_replace: bool
    ) -> tuple[str, asyncio.Future[ev.PushReport]]:
        self._check_open()
        if self.recorder is not None:
            self.recorder.push(ctx, self._now(), explicit_replace)
        future: asyncio.Future[ev.PushReport] = self._loop.create_future()
        push_id = self.core.push(ctx, self._now(), explicit_replace=explicit_replace)
        early = self._reports.pop(push_id, None)  # a push that needed no round trip
        if early is not None:
            future.set_result(early)
        else:
            self._push_waiters[push_id] = future
        self._flush_core()
        return push_id, future

    async def update_session(self, **fields: Any) -> None:
        """Merge ``fields`` into the session configuration and wait for the server."""
        self._check_open()
        if self.recorder is not None:
            self.recorder.call("update_session", self._now(), fields=fields)
        future: asyncio.Future[None] = self._loop.create_future()
        event_id = self.core.update_session(fields, self._now())
        self._update_waiters[event_id] = future
        self._flush_core()
        try:
            await self._wait(future, "session.update")
        finally:
            self._update_waiters.pop(event_id, None)

    async def update_instructions(self, instructions: str) -> None:
        """Replace the instructions, kept for every later reconnect too."""
        await self.update_session(instructions=instructions)

    async def update_tools(self, tools: list[dict[str, Any]]) -> None:
        """Replace the tool schemas; a call already running keeps its place (the
        engine holds it in flight until its tool reports)."""
        await self.update_session(tools=tools)

    async def generate_reply(
        self,
        *,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input: Sequence[Item | str] | None = None,
        input_items: tuple[str, ...] = (),
    ) -> Generation:
        """Ask for a response (through the engine's slot); its generation once created.
        ``out_of_band``: beside the conversation, its output never in it; ``input``, its
        context: item ids (kept on the server until it is done) and inline items
        (never added). ``input_items``: the older, ids-only spelling. docs/agent.md"""
        self._check_open()
        context = response_input(input, input_items)
        kwargs: dict[str, Any] = {
            "instructions": instructions,
            "out_of_band": out_of_band,
            "metadata": metadata,
            "input_items": context,
        }
        if self.recorder is not None:
            recorded = {**kwargs, "input_items": input_to_json(context)}
            self.recorder.call("generate_reply", self._now(), **recorded)
        event_id = self.core.generate_reply(self._now(), **kwargs)
        future: asyncio.Future[Generation] = self._loop.create_future()
        # Failures come as the operation's resolution, not from a raw server error: a
        # busy refusal is retried by the engine and the reply still comes (R14).
        self._reply_waiters[event_id] = future
        self._flush_core()
        try:
            generation: Generation = await self._wait(future, "generate_reply")
        finally:
            self._reply_waiters.pop(event_id, None)
        return generation

    def interrupt(
        self, played_ms: int | None = None, *, item_id: str | None = None, truncate: bool = True
    ) -> None:
        """Barge-in: cancel the response, truncate what was played (all that was
        received, when ``played_ms`` is None) or delete a turn nothing of which was.

        ``item_id``: the assistant audio item to cut (default: the last one received);
        ``truncate=False``: cancel only (the caller truncates later, where it played)."""
        extra: dict[str, Any] = {}
        if item_id is not None:
            extra["item_id"] = item_id
        if not truncate:
            extra["truncate"] = False
        self._call(
            "interrupt",
            lambda now: self.core.interrupt(now, played_ms, item_id=item_id, truncate=truncate),
            played_ms=played_ms,
            **extra,
        )

    def push_audio(self, pcm: bytes) -> None:
        """PCM16 mono 24 kHz input audio (the server's VAD decides when a turn ends)."""
        self._check_open()
        if self._rollover is not None and self._rollover.hold(pcm):
            return  # rolling over: sent to the new session once it is restored
        self._call(
            "push_audio",
            lambda now: self.core.push_audio(pcm),
            audio_bytes=len(pcm),
            **({"audio": pcm.hex()} if self.options.record_audio else {}),
        )

    def commit_audio(self) -> None:
        """End the user's turn by hand (no server VAD): the buffer becomes a user item."""
        self._check_open()
        if self._rollover is not None and self._rollover.hold_command(COMMIT):
            return  # rolling over: after the held audio, in the new session
        self._call("commit_audio", lambda now: self.core.commit_audio())

    def clear_audio(self) -> None:
        """Drop the audio buffered on the server since the last commit."""
        self._check_open()
        if self._rollover is not None and self._rollover.hold_command(CLEAR):
            return
        self._call("clear_audio", lambda now: self.core.clear_audio())

    def tool_started(self, call_id: str, *, idempotent: bool = False) -> None:
        """Report that the tool for ``call_id`` is running: until it finishes or is
        abandoned, no push deletes its call. ``idempotent``: it may run again after a
        crash (a journaled session's resume re-runs it instead of answering it as
        interrupted)."""
        self._call(
            "tool_started",
            lambda now: self.core.tool_started(call_id, now),
            CallStarted(call_id, idempotent),
            call_id=call_id,
        )

    def tool_finished(self, call_id: str, output: str) -> None:
        """Hand in the tool's ``output``: the engine creates it right after its call
        and asks for the follow-up once every output of the response is in."""
        self._call(
            "tool_finished",
            lambda now: self.core.tool_finished(call_id, output, now),
            CallFinished(call_id),
            call_id=call_id,
            output=output,
        )

    def tool_abandoned(self, call_id: str, *, delete: bool = True) -> None:
        """Give up on a call whose tool will never answer, so none is left dangling: a
        call whose tool never started is deleted; one that started (or with
        ``delete=False``) is answered with an error output."""
        self._call(
            "tool_abandoned",
            lambda now: self.core.tool_abandoned(call_id, now, delete=delete),
            CallFinished(call_id),
            call_id=call_id,
            delete=delete,
        )

    # -- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection; every waiter still pending ends with
        :class:`SessionClosed` and :meth:`events` ends. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._fail_waiters(SessionClosed("the session was closed"))
        if self._rollover is not None:
            await self._rollover.discard()
        self._generations.finish_all("cancelled")  # no stream or wait() outlives the session
        self._stop_ticking()
        self._outbox.put_nowait(None)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._transport is not None:
            with contextlib.suppress(Exception):
                await self._transport.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.telemetry is not None:  # telemetry (issue 21): ends the session's spans
            self.telemetry.close(self.reconnects)
        self._events.put_nowait(None)

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if isinstance(self._failure, JournalError):  # the session stopped: say why
            raise self._failure
        if self._closed:
            raise SessionClosed("the session is closed")
        if self._failure is not None:
            raise self._failure

    def _call(
        self, name: str, act: Callable[[float], None], note: Record | None = None, /, **record: Any
    ) -> None:
        self._check_open()
        if note is not None and self._journal is not None:
            self._journal.writer.note(note)  # a tool report, journaled with this step
        now = self._now()
        if self.recorder is not None:
            self.recorder.call(name, now, **record)
        act(now)
        self._flush_core()

    def _send(self, frames: list[str]) -> None:
        if self._journal is not None and not self._checkpoint():
            return  # write before send: what could not be journaled is not sent
        for frame in frames:
            if self.recorder is not None:
                self.recorder.frame_out(frame)
            if self.telemetry is not None:  # telemetry (issue 21)
                self.telemetry.frame_out(frame)
            self._outbox.put_nowait(frame)

    def _checkpoint(self) -> bool:
        """Journal this step's changes; False, and the session stops, when the store
        cannot take them."""
        assert self._journal is not None
        if self._journal.is_broken():
            return False
        failed = self._journal.checkpoint(self.core.engine, self.core.session_config)
        if failed is not None:
            log.error("journal %s: %s; the session stops", self._journal.key, failed)
            self._failure = failed
            self._fail_waiters(failed)
            self._events.put_nowait(None)
            self._tasks.append(asyncio.ensure_future(self.aclose()))
        return failed is None

    async def _wait(self, future: asyncio.Future[Any], what: str) -> Any:
        # A timer that cancels the waiter, not wait_for(shield(...)) nor asyncio.timeout:
        # the same outcome without a wait_for coroutine, a shield future, done callbacks,
        # closures, a Timeout object or a copied context, for each of the two waits of
        # every turn (each alive for the whole round trip).
        timer = self._loop.call_later(
            self.options.wait_timeout, future.cancel, _TIMED_OUT, context=_NO_CONTEXT
        )
        try:
            try:
                return await future
            except asyncio.CancelledError as cancelled:
                task = asyncio.current_task()
                if cancelled.args != (_TIMED_OUT,) or (task is not None and task.cancelling()):
                    raise  # the caller was cancelled (too): that wins, as with wait_for
                raise TimeoutError from None
        except TimeoutError as exc:
            if self._reconnecting:
                # No answer because there is no connection: say that, not a timeout on a
                # live socket (the operation is still carried by the restore, if one comes).
                raise ConnectionLost(
                    f"{what}: no connection for {self.options.wait_timeout:g} s "
                    f"(reconnecting, attempt {self._attempts})"
                ) from exc
            raise OperationTimeout(f"{what}: no answer in {self.options.wait_timeout:g} s") from exc
        finally:
            timer.cancel()
            # Fix: a waiter given up (timeout, cancelled caller) stayed registered, and the
            # exception aclose() later set on it was never retrieved (logged at exit).
            if not future.done():
                future.cancel()

    def _on_event(self, event: app.SessionEvent) -> None:
        roll = self._rollover
        if isinstance(event, app.SessionStarted):
            opened = roll.opened_wall if roll is not None and roll.switching else None
            self._created_wall = opened or time.time()
            self._session_id = event.session_id
        if roll is not None:
            roll.heard(event, self._now())
            if isinstance(event, ev.Reconnected):
                if roll.holding:  # once this step's frames (VAD back on) are out
                    self._loop.call_soon(self._replay)
                if roll.switching and self._session_id == roll.previous_session:
                    self._restored = event  # told once the new session.created is read
                    return
                if roll.switching:
                    event = self._rolled_over(roll, event)
        if isinstance(event, app.ContextSynced):
            waiter = self._push_waiters.pop(event.report.push_id, None)
            if waiter is None:
                self._reports[event.report.push_id] = event.report
            elif not waiter.done():
                waiter.set_result(event.report)
        self._events.put_nowait(event)
        if isinstance(event, app.SessionStarted) and roll is not None and self._restored:
            restored, self._restored = self._restored, None
            self._events.put_nowait(self._rolled_over(roll, restored))
        if isinstance(event, app.GenerationStarted) and event.generation.requested_by:
            reply = self._reply_waiters.pop(event.generation.requested_by, None)
            if reply is not None and not reply.done():
                reply.set_result(event.generation)

    def _rolled_over(self, roll: Rollover, restore: ev.Reconnected) -> app.RolledOver:
        """The switch's restore is acknowledged, in the new server session."""
        roll.told()
        roll.opened_wall = None
        return app.RolledOver(
            restore.restored, restore.lost, self._session_id, roll.previous_session
        )

    def _replay(self) -> None:
        """The held audio and buffer commands into the new session, in order. Until this
        runs, audio pushed meanwhile joins the hold (it must not go ahead of it)."""
        if self._rollover is None or self._closed or self._failure is not None:
            return
        for held in self._rollover.release():
            if isinstance(held, bytes):
                self.push_audio(held)
            elif held == COMMIT:
                self.commit_audio()
            else:
                self.clear_audio()

    def _on_stream(self, event: StreamEvent) -> None:
        generation = self._generations.feed(event)
        if generation is not None:
            self._on_event(app.GenerationStarted(generation))

    def _on_effect(self, effect: ev.Effect) -> None:
        settle(effect, self._update_waiters, self._reply_waiters, self._generations)

    def _fail_waiters(self, exc: BaseException) -> None:
        fail_all(exc, self._push_waiters, self._update_waiters, self._reply_waiters)
