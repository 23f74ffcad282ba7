"""One simulated Realtime session: client events in, server events out.

The transport is a seam: :class:`SimSession` is given ``send`` (a frame to the client)
and ``close`` (code, reason), so the same session runs behind a websocket or in a test
without one. Both directions go through a :class:`DelayedChannel`, so latency, jitter and
held events act on whole FIFO channels as they do on a real network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, ClassVar, cast

from websockets.exceptions import ConnectionClosed

from accord.items import Item, Message
from accord.protocol import (
    ConversationCreated,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    RemoteProtocolError,
    ResponseCancel,
    ResponseCreate,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    UnknownEvent,
    encode,
    parse_client_event,
)
from accord.protocol.wire_items import WireMessage
from accord.sim import audio
from accord.sim.channel import DelayedChannel
from accord.sim.config import SimConfig
from accord.sim.context_window import ContextWindow
from accord.sim.dialects import Respeller
from accord.sim.errors import ServerError, server_error
from accord.sim.events import (
    EventIds,
    Outgoing,
    Prebuilt,
    error_event,
    response_audio,
)
from accord.sim.faults import Faults, refuses
from accord.sim.frames import model_of
from accord.sim.images import image_count
from accord.sim.input_audio import InputAudio
from accord.sim.item_ops import ItemOps
from accord.sim.malformed import event_id_of, malformed, unknown_type
from accord.sim.mcp import McpServers
from accord.sim.mcp_host import McpHost
from accord.sim.model import Model, PlannedOutput, ResponseRequest
from accord.sim.replies import ReplyCount
from accord.sim.responder import ResponseRun, ResponseSpec
from accord.sim.response_input import resolve_input
from accord.sim.session_config import (
    default_session,
    merge_update,
    second_generation,
    server_vad,
    speaks,
)
from accord.sim.store import ConversationStore, StoreConfig
from accord.sim.tokens import IMAGE_TOKENS, ZERO, Count

log = logging.getLogger("accord.sim")

Frame = str | bytes
BUSY = (
    "Conversation already has an active response in progress: {rid}. Wait until the "
    "response is finished before creating a new one."
)  # observed (docs/protocol-notes.md)


def _too_big(frame: str, limit: int) -> bool:
    """Whether ``frame`` is over ``limit`` bytes in UTF-8, encoding it only when its
    length cannot tell (a code point is 1 to 4 bytes; a lone surrogate, replaced, 1)."""
    if len(frame) > limit:
        return True
    return len(frame) * 4 > limit and len(frame.encode("utf-8", "replace")) > limit


class SimSession(InputAudio, ItemOps):
    """A Realtime session's server side."""

    def __init__(
        self,
        *,
        config: SimConfig,
        model: Model,
        model_name: str,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        session_id: str,
        loop_time: Callable[[], float],
        wall_time: Callable[[], float] = time.time,
        index: int = 0,
    ) -> None:
        self.config = config
        self.model = model
        self.session_id = session_id
        # Each session its own id stream, mixed with the process nonce (sim/ids.py): a
        # reconnected session must not reissue the ids of the items a restore re-creates,
        # in this process or after a restart (the real server's ids are unique).
        self.profile = config.profile
        self.ids = EventIds(config.seed, stream=index, uuids=self.profile.uuid_ids)
        self.store = ConversationStore(
            StoreConfig(config.quirks.reuse_deleted_ids, self.profile.max_id_length),
            id_source=lambda: self.new_id("item"),
        )
        self.heard_ms: dict[str, int] = {}  # user audio item -> its length
        servers = McpServers(config.mcp_servers)  # scripted MCP servers (sim/mcp.py)
        self.mcp = McpHost(servers, self.store, self.ids, self.emit, self.new_id)
        self.images: dict[str, WireMessage] = {}  # messages with images (sim/images.py)
        self.window = ContextWindow(
            self.store,
            config.post_instructions_limit,
            audio_ms=self.heard_ms.get,
            extra=self._image_tokens,
        )
        self._respell = Respeller(self.profile) if self.profile.rewrites else None
        self._wall_time = wall_time
        self.conversation_id = self.ids.next("conv")
        self._send_frame, self._close = send, close
        self._time = loop_time
        self.started_at = loop_time()
        # expires_at is a Unix timestamp (it was the event loop's monotonic clock, which
        # no client can compare with anything).
        expires = int(wall_time() + config.session_max_seconds)
        self.session: dict[str, Any] = default_session(session_id, model_name, expires)
        self.outbox: DelayedChannel[Outgoing] = DelayedChannel(
            self._deliver, config.downstream, name=f"{session_id}-down"
        )
        self.inbox: DelayedChannel[Frame] = DelayedChannel(
            self.handle_frame, config.upstream, name=f"{session_id}-up"
        )
        self.faults = Faults()
        self._fault_rng = random.Random(config.seed * 1_000_003 + index)  # seeded draws
        self.active: ResponseRun | None = None
        self.out_of_band: dict[str, ResponseRun] = {}
        self._sent: list[Outgoing] = []  # every event delivered (``sent``)
        self._sent_read = 0  # how much of it ``sent`` has turned into models
        self.events_delivered = 0  # counted even when ``sent`` is not kept
        self._tasks: set[asyncio.Task[None]] = set()
        self._input = bytearray()  # the input audio buffer (manual commit)
        self._vad = self._make_vad()
        self._idle_from_ms = 0
        self._speech_item: str | None = None
        self._heard: dict[str, str | None] = {}  # user audio item -> the words in it
        self._last_deleted: str | None = None
        self.replies = ReplyCount()  # replies that answered nothing new (for judges)
        self.refusals = 0  # operations answered with an injected server_error
        self.closed = False

    def _image_tokens(self, item_id: str) -> Count:
        """What a message's image parts add to the context window (most have none)."""
        wire = self.images.get(item_id)
        return ZERO if wire is None else Count(image=IMAGE_TOKENS * image_count(wire))

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.outbox.start()
        self.inbox.start()
        self.emit(SessionCreated(event_id=self.ids.next(), session=self.session))
        if self.profile.conversation_created:
            conversation = {"id": self.conversation_id, "object": "realtime.conversation"}
            self.emit(ConversationCreated(event_id=self.ids.next(), conversation=conversation))
        if self.profile.ping_interval_s is not None:
            self._spawn(self._ping(self.profile.ping_interval_s))

    async def _ping(self, interval_s: float) -> None:
        """xAI's ``ping`` events: one right after connecting, then every ``interval_s``."""
        while not self.closed:
            event_id = self.ids.next()
            stamp = int(self._wall_time() * 1000)
            frame = json.dumps({"type": "ping", "event_id": event_id, "timestamp": stamp})
            self.emit(Prebuilt("ping", event_id, frame))
            await asyncio.sleep(interval_s)

    @property
    def sent(self) -> list[ServerEvent | Prebuilt]:
        """Every event delivered, for tests: the models of the events sent encoded
        directly (sim/frames.py) are built only when this is read."""
        log = self._sent
        for n in range(self._sent_read, len(log)):
            event = log[n]
            if isinstance(event, str):
                log[n] = model_of(event)
        self._sent_read = len(log)
        return cast("list[ServerEvent | Prebuilt]", log)

    def receive(self, frame: Frame) -> None:
        """A frame arrived from the socket: it travels the upstream channel first."""
        self.inbox.put(frame)

    async def shutdown(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for runner in [self.active, *self.out_of_band.values()]:
            if runner is not None and runner.task is not None:
                runner.task.cancel()
        await self.inbox.close()
        await self.outbox.close()

    def emit(self, event: Outgoing) -> None:
        self.outbox.put(event)

    def new_id(self, kind: str) -> str:
        """A server id of ``kind`` (``item``, ``call``, ``resp``); an item id is never one
        this conversation holds or held (a client may have chosen any id)."""
        if kind == "item":
            return self.ids.item(taken=self.store.known)
        return self.ids.next(kind)

    async def _deliver(self, event: Outgoing) -> None:
        if self.closed:
            return
        if isinstance(event, str):
            frame = event  # encoded directly (sim/frames.py)
        else:
            frame = event.frame if isinstance(event, Prebuilt) else encode(event)
        if self._respell is not None:
            spelled = self._respell.frame(frame)  # the dialect's spelling (sim/dialects.py)
            if spelled is None:
                return  # an event this dialect does not send
            frame = spelled
        self.events_delivered += 1
        if self.config.keep_sent_events:
            self._sent.append(event)
        try:
            await self._send_frame(frame)
        except ConnectionClosed:
            self.closed = True  # the client went away: the pump stays alive to be closed
            return
        limit = self.faults.close_after_events
        if limit is not None and self.events_delivered >= limit:
            self.faults.close_after_events = None
            await self._close(1011, "simulated connection drop")

    def inject_error(self, code: str, message: str, event_id: str | None = None) -> None:
        """Fault: an ``error`` event now (``server_error``, ``rate_limit_exceeded``...),
        as the real server sends them unprompted; the session stays open."""
        kind = "server_error" if code == "server_error" else "invalid_request_error"
        self._error(ServerError(code, message, None, event_id, type=kind))

    def _error(self, err: ServerError) -> None:
        log.info("session %s: error %s: %s", self.session_id, err.code, err.message)  # operator
        self.emit(error_event(self.ids, err))

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- client frames ------------------------------------------------------------------

    async def handle_frame(self, frame: Frame) -> None:
        if self.faults.pending_errors:
            code, message = self.faults.pending_errors.pop(0)
            kind = "server_error" if code == "server_error" else "invalid_request_error"
            self._error(ServerError(code, message, None, None, type=kind))
        if isinstance(frame, bytes):
            # Observed: a binary frame gets code invalid_event; the session stays open.
            self._error(
                ServerError(
                    "invalid_event",
                    "Binary frames are not supported; send JSON text frames.",
                    None,
                    None,
                )
            )
            return
        if _too_big(frame, self.config.max_event_bytes):
            self._error(
                ServerError(
                    "invalid_event",
                    f"The event exceeds the maximum size of {self.config.max_event_bytes} bytes.",
                    None,
                    None,
                )
            )
            return
        if self.mcp.intercept(frame):
            return  # an MCP item's create: accord's protocol package has no class for it
        try:
            event = parse_client_event(frame)
        except RemoteProtocolError as exc:
            self._error(malformed(exc, frame))
            return
        if isinstance(event, UnknownEvent):
            self._error(unknown_type(event.type, event_id_of(frame)))
            return
        handler = self._handlers.get(type(event))
        if handler is None:
            self._error(unknown_type(event.type, event.event_id))
            return
        if self._refused(event):
            self._error(server_error(self.session_id, event.event_id))
            return
        try:
            handler(self, event)
        except Exception:
            # A bug in a handler must not kill the inbox pump (every later frame would go
            # unanswered); the real server answers its own failures with server_error.
            log.exception("simulator: handling %s failed", event.type)
            self._error(server_error(self.session_id, event.event_id))

    def _refused(self, event: ServerEvent | Any) -> bool:
        """Fault injection: answer this operation with ``server_error`` (sim/faults.py)."""
        refused = refuses(event, self.faults, self.config.server_errors, self._fault_rng)
        self.refusals += refused
        return refused

    # -- session ------------------------------------------------------------------------

    def _on_session_update(self, event: SessionUpdate) -> None:
        merged = merge_update(self.session, event.session, event.event_id)
        if isinstance(merged, ServerError):
            self._error(merged)
            return
        self.session = merged
        self._vad = self._make_vad()
        self._idle_from_ms = 0  # a new VAD counts its audio from 0
        self.emit(SessionUpdated(event_id=self.ids.next(), session=self.session))
        self.mcp.session_updated(self.session)

    def _make_vad(self) -> audio.EnergyVad | None:
        turn = server_vad(self.session)
        if turn is None:
            return None
        return audio.EnergyVad(
            threshold=float(turn.get("threshold", 0.5)),
            prefix_padding_ms=int(turn.get("prefix_padding_ms", 300)),
            silence_duration_ms=int(turn.get("silence_duration_ms", 500)),
        )

    # -- responses ----------------------------------------------------------------------

    def _on_response_create(self, event: ResponseCreate) -> None:
        params = event.response
        out_of_band = params is not None and params.conversation == "none"
        if not out_of_band and self.active is not None:
            early = self.config.quirks.busy_error_early
            busy = error_event(
                self.ids,
                ServerError(
                    "conversation_already_has_active_response",
                    BUSY.format(rid=self.active.spec.response_id),
                    None,
                    None if early else event.event_id,
                ),
            )
            if self.active.created or early:
                self.emit(busy)
            else:
                # The error names the active response: it follows that response's
                # response.created (a response a VAD turn or the server itself started in
                # the same instant has not sent it yet), never precedes it.
                self.active.after_created.append(busy)
            return
        conversation: list[Item] | None = None
        if out_of_band and params is not None and params.input is not None:
            resolved = resolve_input(params.input, self.store, self.new_id, event.event_id)
            if isinstance(resolved, ServerError):
                self._error(resolved)
                return
            conversation = resolved
        self._start_response(
            out_of_band=out_of_band,
            metadata=params.metadata if params else None,
            event_id=event.event_id,
            instructions=params.instructions if params else None,
            conversation=conversation,
            modalities=params.output_modalities if params else None,
            tools=params.tools if params else None,
            parallel=params.parallel_tool_calls if params else None,
        )

    def _start_response(
        self,
        *,
        out_of_band: bool,
        metadata: dict[str, str] | None,
        event_id: str | None = None,
        instructions: str | None = None,
        conversation: list[Item] | None = None,
        modalities: Any = None,
        tools: Any = None,
        parallel: bool | None = None,
    ) -> ResponseRun:
        said = instructions or str(self.session.get("instructions") or "")
        offered = list(tools if tools is not None else self.session.get("tools") or [])
        # In band, the session's truncation drops old items first (sim/context_window.py).
        # Out of band without an input, the model reads the conversation as it is.
        read = self.store.entries() if out_of_band and conversation is None else conversation
        prompt = self.window.prepare(self.session, said, offered, read)
        request = ResponseRequest(
            conversation=conversation if conversation is not None else self._model_view(),
            instructions=said,
            tools=offered,
            # The response's own setting wins over the session's; both default to True.
            mcp_tools=self.mcp.servers.refs(offered),
            parallel_tool_calls=(
                parallel if parallel is not None else self.session.get("parallel_tool_calls")
            )
            is not False,
            model=str(self.session.get("model") or ""),
        )
        spoken = "audio" in modalities if modalities else speaks(self.session)
        plan: list[PlannedOutput] = []
        failure: Exception | None = None
        try:
            plan = self.model.plan(request)
            entries = self.store.entries() if conversation is None else conversation
            plan = self.mcp.servers.resolve(plan, offered, entries)  # MCP runs server-side
        except Exception as exc:  # the response starts, then fails (responder.py)
            failure = exc
        spec = ResponseSpec(
            response_id=self.new_id("resp"),
            out_of_band=out_of_band,
            audio=spoken,
            metadata=metadata,
            plan=plan,
            conversation_id=None if out_of_band else self.conversation_id,
            audio_settings=response_audio(self.session),
            phases=second_generation(self.session.get("model")),
            session_id=self.session_id,
            event_id=event_id,
            failure=failure,
            input_tokens=prompt.tokens,
            cached_tokens=prompt.cached,
            overflow=prompt.overflow,
        )
        runner = ResponseRun(
            spec,
            self.store,
            self.config,
            self.ids,
            self.emit,
            self.new_id,
            self._anchor_override,
            lambda: not self.out_of_band,
        )
        if out_of_band:
            self.out_of_band[spec.response_id] = runner
        else:
            self.active = runner
            self.replies.asked(spec.response_id, request.conversation)
            if prompt.overflow is None:
                runner.then.append(
                    lambda: self.window.remember(prompt, [o.item.id for o in runner.outputs])
                )
        runner.task = self._spawn(self._run(runner))
        return runner

    def _model_view(self) -> list[Item]:
        """The conversation as the model takes it in: it hears user audio whose transcript
        has not arrived yet (or never will, with transcription off)."""
        view: list[Item] = []
        for item in self.store.items():
            heard = self._heard.get(item.id)
            if isinstance(item, Message) and item.content is None and heard:
                view.append(replace(item, content=heard))
            else:
                view.append(item)
        return view

    async def _run(self, runner: ResponseRun) -> None:
        try:
            await runner.run()
            self.replies.finished(runner)
        finally:
            if self.active is runner:
                self.active = None
            self.out_of_band.pop(runner.spec.response_id, None)
            if runner.deferred and not self.closed:
                for ev in runner.deferred:
                    self.emit(ev)
                runner.deferred.clear()
                self._after_output()
            for follow_up in runner.then if not self.closed else ():
                follow_up()
            runner.then.clear()

    @property
    def duplicate_replies(self) -> int:
        """Completed in-band replies that saw no user turn or tool output an earlier
        reply had not already seen (see :class:`ReplyCount`)."""
        return self.replies.duplicates

    def _anchor_override(self) -> str | None:
        """Race R6: report the next output item as anchored on the item just deleted."""
        if self.faults.anchor_next_output_on_deleted and self._last_deleted is not None:
            self.faults.anchor_next_output_on_deleted = False
            return self._last_deleted
        return None

    def _on_response_cancel(self, event: ResponseCancel) -> None:
        target = self.active
        if event.response_id is not None:
            target = self.out_of_band.get(event.response_id) or (
                self.active
                if self.active and self.active.spec.response_id == event.response_id
                else None
            )
        if target is None or not target.created:
            # Observed: response_cancel_not_active. docs/protocol-notes.md: a cancel sent before
            # response.created is a no-op and the response runs anyway (it cancelled a
            # task that had not started, which then never sent response.done and left
            # the session busy for good). The error for that case is assumed: the server
            # has no active response to cancel yet.
            self._error(
                ServerError(
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    None,
                    event.event_id,
                )
            )
            return
        target.cancel("client_cancelled")

    _handlers: ClassVar[dict[type, Callable[[SimSession, Any], None]]] = {}


SimSession._handlers = {
    SessionUpdate: SimSession._on_session_update,
    ConversationItemCreate: SimSession._on_item_create,
    ConversationItemDelete: SimSession._on_item_delete,
    ConversationItemRetrieve: SimSession._on_item_retrieve,
    ConversationItemTruncate: SimSession._on_item_truncate,
    ResponseCreate: SimSession._on_response_create,
    ResponseCancel: SimSession._on_response_cancel,
    InputAudioBufferAppend: SimSession._on_audio_append,
    InputAudioBufferCommit: SimSession._on_audio_commit,
    InputAudioBufferClear: SimSession._on_audio_clear,
    OutputAudioBufferClear: SimSession._on_output_audio_clear,
}
