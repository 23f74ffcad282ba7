"""Agent and its runner: the turn loop, tool dispatch, interruptions, context policies.

What a voice-agent developer writes against. The runner owns one
:class:`~accord.session.RealtimeSession`; it reports every tool start and finish to the
session (which sends outputs and the one follow-up itself), abandons calls of cancelled
responses, cancels running tools on a barge-in, and runs context policies concurrently
with everything else through ``update_chat_ctx``: the callers that lose items in other
frameworks, safe here by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from accord.client import events as se
from accord.engine.events import PushReport
from accord.ids import IdGenerator
from accord.items import (
    FunctionCall,
    FunctionCallOutput,
    Item,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpListTools,
    Message,
)
from accord.mcp import (
    McpApproval,
    McpApprovalRequested,
    McpCallDone,
    McpEvent,
    McpToolsListed,
    decide,
)
from accord.policies import ContextPolicy, SummarizeOlder, TokenBudget, Trigger
from accord.session import RealtimeSession
from accord.tools import FunctionTool, ToolResult, unknown_tool

log = logging.getLogger("accord.agent")

SUMMARY_INSTRUCTIONS = (
    "Summarize the conversation items given as input in two sentences, keeping names, "
    "numbers and decisions. Output only the summary."
)


@dataclass(frozen=True, slots=True)
class ToolStarted:
    name: str
    call_id: str


@dataclass(frozen=True, slots=True)
class ToolFinished:
    name: str
    call_id: str
    ok: bool
    error: str | None
    output: str


@dataclass(frozen=True, slots=True)
class ContextEdited:
    policy: str
    report: PushReport
    calls_in_flight: int  # tool calls running when the push was made


@dataclass(frozen=True, slots=True)
class Transcript:
    role: str
    item_id: str
    text: str


AgentEvent = ToolStarted | ToolFinished | ContextEdited | Transcript | McpEvent | se.SessionEvent

#: The turn detection an agent that hears audio gets unless it says otherwise: the
#: Realtime API's own ``server_vad`` defaults, spelled out so that what is sent does not
#: depend on the server's defaults. Speech louder than ``threshold`` (0..1) starts a
#: turn, ``prefix_padding_ms`` of audio before it is kept, ``silence_duration_ms`` of
#: quiet ends it; the server then commits the audio and replies (``create_response``),
#: and speech over a reply cancels it (``interrupt_response``, the barge-in).
DEFAULT_SERVER_VAD: Mapping[str, Any] = MappingProxyType(
    {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }
)

#: ``Agent.turn_detection``: ``"auto"`` (not given) is server VAD for an agent that
#: hears audio and none for one that does not; ``"off"`` or ``None`` is none at all (the
#: application commits the audio and asks for the reply); a dict is sent as it is.
TurnDetection = Mapping[str, Any] | Literal["auto", "off"] | None


def server_vad(**overrides: Any) -> dict[str, Any]:
    """:data:`DEFAULT_SERVER_VAD` with some settings changed, e.g. a speaker who pauses
    long: ``server_vad(silence_duration_ms=900)``. A misspelt setting is a TypeError
    here rather than an ``unknown_parameter`` refusal of the whole session later."""
    unknown = set(overrides) - set(DEFAULT_SERVER_VAD) - {"idle_timeout_ms"}
    if unknown:
        raise TypeError(f"server_vad() got unknown settings: {', '.join(sorted(unknown))}")
    return {**DEFAULT_SERVER_VAD, **overrides}


@dataclass
class Agent:
    """Instructions, tools and context policies; ``modalities`` ["text"] or ["audio"].

    An agent hears audio when ``audio_input`` says so, or, left at None, when it speaks
    (``"audio"`` in ``modalities``). Such an agent gets server VAD by default
    (:data:`DEFAULT_SERVER_VAD`), so ``runner.speak(pcm)`` is answered with nothing
    else configured; ``turn_detection="off"`` (or None) turns it off for applications
    that decide themselves when a turn ends (``session.commit_audio()`` then
    ``session.generate_reply()``). See docs/voice.md.
    """

    instructions: str
    tools: Sequence[FunctionTool] = ()
    context_policy: ContextPolicy | Sequence[ContextPolicy] | None = None
    modalities: Sequence[str] = ("text",)
    voice: str | None = None
    turn_detection: TurnDetection = "auto"
    transcription_model: str | None = "whisper-1"
    audio_input: bool | None = None
    #: MCP servers as session tools (:func:`accord.mcp.mcp_server`), and how their
    #: approval requests are answered (:data:`accord.mcp.McpApproval`; None denies).
    mcp_servers: Sequence[Mapping[str, Any]] = ()
    mcp_approval: McpApproval = None

    def __post_init__(self) -> None:
        if isinstance(self.turn_detection, str) and self.turn_detection not in ("auto", "off"):
            raise ValueError(
                f"turn_detection must be 'auto', 'off', None or a dict, not {self.turn_detection!r}"
            )

    @property
    def hears_audio(self) -> bool:
        """Whether the agent takes spoken input (``audio_input``, else its modalities)."""
        if self.audio_input is not None:
            return self.audio_input
        return "audio" in self.modalities

    def resolved_turn_detection(self) -> dict[str, Any] | None:
        """What ``session.audio.input.turn_detection`` is set to (None: off)."""
        turn = self.turn_detection
        if turn == "auto":
            return dict(DEFAULT_SERVER_VAD) if self.hears_audio else None
        if turn is None or turn == "off":
            return None
        assert not isinstance(turn, str)
        return dict(turn)

    @property
    def policies(self) -> list[ContextPolicy]:
        """The context policies as a list (``context_policy`` takes one or several, so
        the common case of one needs no brackets)."""
        if self.context_policy is None:
            return []
        if isinstance(self.context_policy, Sequence):
            return list(self.context_policy)
        return [self.context_policy]

    def session_config(self) -> dict[str, Any]:
        """The ``session`` for :meth:`RealtimeSession.connect`: instructions, tool
        schemas, modalities and audio settings. The session sends it again on every
        reconnect, so the agent is described once, here."""
        audio_in: dict[str, Any] = {"turn_detection": self.resolved_turn_detection()}
        if self.transcription_model:
            audio_in["transcription"] = {"model": self.transcription_model}
        audio: dict[str, Any] = {"input": audio_in}
        if self.voice:
            audio["output"] = {"voice": self.voice}
        return {
            "instructions": self.instructions,
            "tools": [tool.schema for tool in self.tools]
            + [dict(server) for server in self.mcp_servers],
            "output_modalities": list(self.modalities),
            "audio": audio,
        }

    def start(self, session: RealtimeSession) -> AgentRunner:
        """Run this agent on ``session``: the returned runner dispatches its tools and
        applies its policies until it is closed."""
        runner = AgentRunner(self, session)
        runner.start()
        return runner


@dataclass
class RunnerStats:
    tool_calls: int = 0
    tool_failures: int = 0
    pushes: int = 0
    pushes_during_calls: int = 0
    deferred: int = 0
    aliased: int = 0
    sent: int = 0
    failed: int = 0
    interruptions: int = 0
    server_errors: list[str] = field(default_factory=list)
    # Tool calls whose output never reached the server (OutputFailed): requests the
    # user made that were not carried out, by call id, with why.
    outputs_failed: list[str] = field(default_factory=list)


class SeenOnce:
    """Ids the runner acted on once (a call dispatched, an MCP item reported), each
    forgotten a whole turn after it left the conversation.

    A duplicate comes while its item is still there (an item done twice, a call
    re-announced by a restore) or while its delete is on its way, never a turn after
    it went; without forgetting, a long session kept one id per call forever."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self._gone: set[str] = set()  # not in the conversation at the last turn's end

    def __contains__(self, key: object) -> bool:
        return key in self.ids

    def add(self, key: str) -> None:
        self.ids.add(key)

    def turn_ended(self, live: set[str]) -> None:
        """``live``: the keys the conversation holds now."""
        self.ids -= self._gone - live
        self._gone = self.ids - live


class AgentRunner:
    """Drives one session for one agent."""

    def __init__(self, agent: Agent, session: RealtimeSession) -> None:
        self.agent = agent
        self.session = session
        self.tools = {tool.name: tool for tool in agent.tools}
        self.stats = RunnerStats()
        self._events: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}
        self._policy_tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._turns = 0
        # The runner's own ids: the engine's generator belongs to the engine (a replay
        # re-creates the engine's ids from the recorded calls alone).
        self._ids = IdGenerator(session.options.seed, prefix="user")
        self._handled_calls = SeenOnce()  # call ids dispatched
        self._mcp_seen = SeenOnce()  # MCP items reported (each can be done twice)
        self._active_generation: Any = None
        self._interrupted: Any = None  # the generation the last barge-in was for
        for policy in agent.policies:
            if isinstance(policy, SummarizeOlder | TokenBudget) and policy.summarizer is None:
                policy.summarizer = self.summarize_out_of_band

    def start(self) -> None:
        """Start reading the session's events (:meth:`Agent.start` calls it); the
        runner acts only on events read after this."""
        self._loop_task = asyncio.ensure_future(self._run())

    def events(self) -> AsyncIterator[AgentEvent]:
        """Every session event, then the runner's own (tool starts and finishes,
        context edits, transcripts), in order, until :meth:`aclose`. The runner reads
        the session's events itself, so an application reads them here instead."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AgentEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    # -- input ---------------------------------------------------------------------------

    async def say(self, text: str, *, item_id: str | None = None) -> None:
        """A typed user turn: the message goes after everything, then a reply.

        Emits the user's :class:`Transcript` (as a spoken turn's transcription does)
        before the reply is asked for, so a reader of :meth:`events` sees the user's line
        first."""
        ctx = self.session.chat_ctx
        message = Message(id=item_id or self._ids.new("user"), role="user", content=text)
        ctx.append(message)
        pushed = self.session.update_chat_ctx(ctx)
        del ctx  # not held while the server answers (see RealtimeSession.update_chat_ctx)
        await pushed
        self._events.put_nowait(Transcript("user", message.id, text))
        await self.session.generate_reply()

    def speak(self, pcm: bytes) -> None:
        """Spoken input: PCM16 little-endian mono at 24 kHz, any chunk size.

        With server VAD (the default for an agent that hears audio) the server ends
        the turn after :data:`DEFAULT_SERVER_VAD`'s silence and replies; with
        ``turn_detection="off"`` call ``session.commit_audio()`` and
        ``session.generate_reply()``. The audio of the reply: ``generation.audio``."""
        self.session.push_audio(pcm)

    def is_idle(self, policies: bool = True) -> bool:
        """No tool or policy running and the engine quiet, right now (a caller that waits
        on its own schedule, e.g. many sessions on one loop, polls this instead of
        :meth:`wait_idle`'s 10 ms loop). ``policies=False`` ignores context policies
        still at work and their out-of-band requests (a slow summary): a user does not
        wait for them to speak on."""
        if self._tool_tasks or (policies and self._policy_tasks):
            return False
        return self.session.core.engine.is_quiet(out_of_band=policies)

    async def wait_idle(
        self, timeout: float = 30.0, settle: float = 0.05, policies: bool = True
    ) -> None:
        """Until no response, tool, policy, operation or transcript is pending (with
        ``policies=False``: whatever the policies still do, see :meth:`is_idle`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        quiet_since: float | None = None
        while True:
            now = asyncio.get_running_loop().time()
            busy = not self.is_idle(policies)
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= settle:
                return
            if now > deadline:
                raise TimeoutError("the agent did not become idle")
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        """Stop: running tools and policies are cancelled (a cancelled tool is
        reported abandoned, so its call does not stay in flight) and :meth:`events`
        ends. The session stays open; close it separately."""
        for task in [*self._tool_tasks.values(), *self._policy_tasks]:
            task.cancel()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        self._events.put_nowait(None)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        async for event in self.session.events():
            self._events.put_nowait(event)
            try:
                self._handle(event)
            except Exception:
                log.exception("agent: handling %s failed", type(event).__name__)
        self._events.put_nowait(None)

    def _handle(self, event: se.SessionEvent) -> None:
        if isinstance(event, se.FunctionCallReady):
            self._dispatch(event)
        elif isinstance(event, se.CallOrphaned):
            self.session.tool_abandoned(event.call_id)
        elif isinstance(event, se.InputSpeechStarted):
            self._barge_in()
        elif isinstance(event, se.InputTranscriptCompleted):
            self._events.put_nowait(Transcript("user", event.item_id, event.transcript))
        elif isinstance(event, se.GenerationStarted):
            # Fix: only the in-band reply is what the user hears; an out-of-band summary
            # starting over it hid the reply from the barge-in check below.
            if not event.generation.out_of_band:
                self._active_generation = event.generation
                task = asyncio.ensure_future(self._follow(event.generation))
                self._policy_tasks.add(task)  # waited for like a policy: part of the turn
                task.add_done_callback(self._policy_tasks.discard)
        elif isinstance(event, se.ServerErrorEvent):
            if not event.retried:
                self.stats.server_errors.append(f"{event.code}: {event.message}")
        elif isinstance(event, se.McpItemDone):
            self._mcp_done(event.item)
        elif isinstance(event, se.OutputFailed):
            self.stats.outputs_failed.append(f"{event.call_id}: {event.code}: {event.message}")

    async def _follow(self, generation: Any) -> None:
        text = await generation.collect_text()
        status = await generation.wait()
        if text:
            self._events.put_nowait(
                Transcript("assistant", generation.item_ids[0] if generation.item_ids else "", text)
            )
        if status == "completed":
            self._turns += 1
            self._forget_gone()
            self._run_policies("turn")

    def _forget_gone(self) -> None:
        items = self.session.chat_ctx.items
        calls = {i.call_id for i in items if isinstance(i, FunctionCall | FunctionCallOutput)}
        self._handled_calls.turn_ended(calls | self._tool_tasks.keys())
        self._mcp_seen.turn_ended({i.id for i in items})

    # -- tools ---------------------------------------------------------------------------

    def _dispatch(self, event: se.FunctionCallReady) -> None:
        call = event.call
        if call.call_id in self._handled_calls:
            return
        self._handled_calls.add(call.call_id)
        self._tool_tasks[call.call_id] = asyncio.ensure_future(self._run_tool(call))

    async def _run_tool(self, call: Any) -> None:
        tool = self.tools.get(call.name)
        try:  # whatever happens, the task leaves _tool_tasks (or wait_idle never ends)
            self.session.tool_started(call.call_id, idempotent=tool is not None and tool.idempotent)
            self.stats.tool_calls += 1
            self._events.put_nowait(ToolStarted(call.name, call.call_id))
            self._run_policies("tool_started")
            if tool is None:
                result = unknown_tool(call.name, sorted(self.tools))
            else:
                result = await tool.invoke(call.arguments)
        except asyncio.CancelledError:
            self.session.tool_abandoned(call.call_id, delete=False)
            self._events.put_nowait(ToolFinished(call.name, call.call_id, False, "cancelled", ""))
            return
        finally:
            self._tool_tasks.pop(call.call_id, None)
        self._finish_tool(call, result)

    def _finish_tool(self, call: Any, result: ToolResult) -> None:
        if not result.ok:
            self.stats.tool_failures += 1
        self.session.tool_finished(call.call_id, result.output)
        self._events.put_nowait(
            ToolFinished(call.name, call.call_id, result.ok, result.error, result.output)
        )
        self._run_policies("tool_finished")

    # -- MCP -----------------------------------------------------------------------------

    def _mcp_done(self, item: Item) -> None:
        if item.id in self._mcp_seen:
            return
        self._mcp_seen.add(item.id)
        if isinstance(item, McpListTools):
            self._events.put_nowait(McpToolsListed(item))
        elif isinstance(item, McpCall):
            self._events.put_nowait(McpCallDone(item))
        elif isinstance(item, McpApprovalRequest):
            task = asyncio.ensure_future(self._answer_approval(item))
            self._policy_tasks.add(task)  # waited for by wait_idle: part of the turn
            task.add_done_callback(self._policy_tasks.discard)

    async def _answer_approval(self, request: McpApprovalRequest) -> None:
        """Answer the request (approved or not), then ask for a response: the server
        waits for both before the model goes on (running the tool, or saying it will
        not)."""
        approved, reason = await decide(self.agent.mcp_approval, request)
        answer = McpApprovalResponse(
            id=self._ids.new("approval"),
            approval_request_id=request.id,
            approve=approved,
            reason=reason,
        )
        try:
            ctx = self.session.chat_ctx
            if request.id not in ctx:
                # A push dropped the request while it was being decided (its delete
                # waits: engine/mcp.py). The answer must follow it on the server, so the
                # request is wanted back first; then the answer is anchored on it.
                ctx.append(request)
                await self.session.update_chat_ctx(ctx)
                ctx = self.session.chat_ctx
            ctx.append(answer)
            await self.session.update_chat_ctx(ctx)
        except Exception as exc:
            log.warning("agent: answering MCP approval %s failed: %s", request.id, exc)
            return
        self._events.put_nowait(McpApprovalRequested(request, approved, reason))
        try:
            await self.session.generate_reply()
        except Exception as exc:  # a task of the runner: report, never raise into nothing
            log.warning("agent: the reply after MCP approval %s failed: %s", request.id, exc)

    def _barge_in(self) -> None:
        """The user spoke over the reply: cancel it, truncate what was heard, and stop
        the tools it started."""
        generation = self._active_generation
        # Fix: with server VAD's interrupt_response the server cancels the reply itself,
        # and its response.done is often handled (status "cancelled") before this event
        # reaches the runner; the barge-in was then skipped and the reply's tools ran on.
        if generation is None or generation is self._interrupted:
            return
        if generation.status not in (None, "cancelled"):
            return
        self._interrupted = generation
        self.stats.interruptions += 1
        self.session.interrupt()
        for task in list(self._tool_tasks.values()):
            task.cancel()

    # -- context policies ----------------------------------------------------------------

    def _run_policies(self, trigger: Trigger) -> None:
        for policy in self.agent.policies:
            wanted = (policy.trigger,) if isinstance(policy.trigger, str) else policy.trigger
            if trigger not in wanted:
                continue
            count = self._turns if trigger == "turn" else self.stats.tool_calls
            if count % max(policy.every, 1) != 0:
                continue
            task = asyncio.ensure_future(self._apply_policy(policy))
            self._policy_tasks.add(task)
            task.add_done_callback(self._policy_tasks.discard)

    async def _apply_policy(self, policy: ContextPolicy) -> None:
        snapshot = self.session.chat_ctx
        try:
            edited = await policy.edit(snapshot)
            if edited is None:
                return
            in_flight = len(self._tool_tasks)
            report = await self.session.update_chat_ctx(edited)
        except Exception as exc:
            log.warning("policy %s failed: %s", policy.name, exc)
            return
        self.stats.pushes += 1
        self.stats.pushes_during_calls += in_flight > 0
        self.stats.deferred += len(report.deferred)
        self.stats.aliased += len(report.aliased)
        self.stats.sent += len(report.sent)
        self.stats.failed += len(report.failed)
        self._events.put_nowait(ContextEdited(policy.name, report, in_flight))

    async def summarize_out_of_band(self, items: Sequence[Item]) -> str:
        """The default summarizer: an out-of-band response (``conversation: "none"``)
        reading the older items, so it needs no second connection."""
        generation = await self.session.generate_reply(
            out_of_band=True,
            instructions=SUMMARY_INSTRUCTIONS,
            metadata={"purpose": "summary"},
            input_items=tuple(i.id for i in items),
        )
        text = await generation.collect_text()
        await generation.wait()
        return text.strip() or "(no summary)"
