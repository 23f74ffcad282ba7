"""The agent runner against the in-process simulator: tool failures, parallel calls,
barge-in and context policies, each ending with the client's mirror equal to the
simulator's store.

Every test starts its own :class:`SimServer` on 127.0.0.1, port 0; the "model" is a
:class:`ScriptedModel` (or a small stand-in) so each response's content is decided here.
All waits are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from accord.agent import (
    SUMMARY_INSTRUCTIONS,
    Agent,
    AgentEvent,
    AgentRunner,
    ContextEdited,
    ToolFinished,
    ToolStarted,
    Transcript,
)
from accord.client import events as se
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.policies import KeepLastTurns, RedactToolOutputs, SummarizeOlder
from accord.protocol import ResponseCreated
from accord.session import RealtimeSession
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.model import (
    Model,
    PlannedCall,
    PlannedOutput,
    PlannedText,
    ResponseRequest,
    RuleBasedModel,
    ScriptedModel,
)
from accord.sim.server import SimServer
from accord.sim.session_config import SERVER_VAD
from accord.tools import function_tool

IDLE = 5.0  # seconds any single wait may take
FOLLOW_UP = "Thanks, I have the tool's answer."
LONG_REPLY = "This reply keeps streaming for a good while. " * 30


@dataclass
class Run:
    sim: SimServer
    session: RealtimeSession
    runner: AgentRunner
    events: list[AgentEvent] = field(default_factory=list)

    @property
    def store(self) -> list[Item]:
        return self.sim.sessions[0].store.items()

    @property
    def mirror(self) -> list[Item]:
        return self.session.core.engine.mirror_items()

    def assert_converged(self) -> None:
        assert self.mirror == self.store

    def responses_created(self) -> int:
        return sum(isinstance(e, ResponseCreated) for e in self.sim.sessions[0].sent)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, found: Callable[[AgentEvent], bool]) -> AgentEvent:
        async with asyncio.timeout(IDLE):
            while True:
                for event in self.events:
                    if found(event):
                        return event
                await asyncio.sleep(0.005)

    async def turn(self, text: str) -> None:
        await self.runner.say(text)
        await self.runner.wait_idle(IDLE)


@contextlib.asynccontextmanager
async def running(
    agent: Agent, model: Model | None = None, config: SimConfig | None = None
) -> AsyncIterator[Run]:
    factory: Callable[[], Model] = (lambda: model) if model is not None else RuleBasedModel
    async with (
        SimServer(config or SimConfig(), model_factory=factory) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test-not-a-key", session=agent.session_config(), seed=7
        ) as session,
    ):
        runner = agent.start(session)
        run = Run(sim, session, runner)

        async def collect() -> None:
            async for event in runner.events():
                run.events.append(event)

        collector = asyncio.ensure_future(collect())
        try:
            yield run
        finally:
            await runner.aclose()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(collector, IDLE)


def scripted(*responses: list[PlannedOutput]) -> ScriptedModel:
    model = ScriptedModel()
    for outputs in responses:
        model.add(*outputs)
    return model


def pairs_intact(items: list[Item]) -> bool:
    """Every call has exactly one output right after it, and every output its call."""
    calls = [i for i in items if isinstance(i, FunctionCall)]
    outputs = [i for i in items if isinstance(i, FunctionCallOutput)]
    if sorted(c.call_id for c in calls) != sorted(o.call_id for o in outputs):
        return False
    position = {item.id: n for n, item in enumerate(items)}
    by_call = {c.call_id: c for c in calls}
    return all(position[o.id] > position[by_call[o.call_id].id] for o in outputs)


# -- tools -------------------------------------------------------------------------------


@function_tool
def lookup(city: str) -> str:
    """Look a city up.

    Args:
        city: the city's name
    """
    return f"{city}: found"


@function_tool
def explode(city: str = "Oslo") -> str:
    """Always fails."""
    raise RuntimeError(f"the {city} station is down")


@function_tool(timeout=0.1)
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(30)
    return "late"


@function_tool(max_output_chars=100)
def dump() -> str:
    """Far too much text."""
    return "row;" * 2000


TOOLS = [lookup, explode, hang, dump]


# -- a failing call never stops the conversation -----------------------------------------


@pytest.mark.parametrize(
    ("call", "ok", "error", "expect"),
    [
        (PlannedCall("lookup", '{"city": "Oslo"'), False, "bad_json", "not valid JSON"),
        (PlannedCall("lookup", '{"town": "Oslo"}'), False, "invalid_arguments", "city"),
        (PlannedCall("explode"), False, "raised", "RuntimeError: the Oslo station is down"),
        (PlannedCall("hang"), False, "timeout", "did not finish within 0.1 s"),
        (PlannedCall("dump"), True, None, "[output truncated: 8000 characters, limit 100]"),
        (PlannedCall("teleport", '{"to": "Mars"}'), False, "unknown_tool", "'teleport'"),
    ],
    ids=["bad-json", "invalid-arguments", "raising", "hanging", "oversized", "unknown-tool"],
)
async def test_failed_call_is_answered_and_the_conversation_goes_on(
    call: PlannedCall, ok: bool, error: str | None, expect: str
) -> None:
    agent = Agent(instructions="Use the tools.", tools=TOOLS)
    model = scripted([call], [PlannedText(FOLLOW_UP)])
    async with running(agent, model) as run:
        started = time.monotonic()
        await run.turn("please do it")
        assert time.monotonic() - started < 3.0

        [finished] = run.of(ToolFinished)
        assert (finished.name, finished.ok, finished.error) == (call.name, ok, error)
        items = run.store
        assert [type(i).__name__ for i in items] == [
            "Message",
            "FunctionCall",
            "FunctionCallOutput",
            "Message",
        ]
        user, fc, out, reply = items
        assert isinstance(user, Message)
        assert user.text == "please do it"
        assert isinstance(fc, FunctionCall)
        assert (fc.name, fc.arguments) == (call.name, call.arguments)
        assert isinstance(out, FunctionCallOutput)
        assert out.call_id == fc.call_id
        assert out.output == finished.output
        assert expect in out.output
        if not ok:
            assert json.loads(out.output)["error"] == error
        assert isinstance(reply, Message)
        assert (reply.role, reply.text) == ("assistant", FOLLOW_UP)  # the follow-up
        assert run.responses_created() == 2
        assert run.runner.stats.tool_calls == 1
        assert run.runner.stats.tool_failures == (0 if ok else 1)
        assert run.runner.stats.server_errors == []
        run.assert_converged()


# -- parallel calls ----------------------------------------------------------------------


async def test_parallel_calls_run_concurrently_with_one_follow_up() -> None:
    spans: dict[str, tuple[float, float]] = {}

    @function_tool
    async def slow_flight(code: str) -> str:
        """A slow flight lookup."""
        begin = time.monotonic()
        await asyncio.sleep(0.3)
        spans["flight"] = (begin, time.monotonic())
        return f"{code} on time"

    @function_tool
    async def slow_hotel(city: str) -> str:
        """A slow hotel lookup."""
        begin = time.monotonic()
        await asyncio.sleep(0.3)
        spans["hotel"] = (begin, time.monotonic())
        return f"room free in {city}"

    agent = Agent(instructions="Plan trips.", tools=[slow_flight, slow_hotel])
    model = scripted(
        [
            PlannedCall("slow_flight", '{"code": "TP123"}'),
            PlannedCall("slow_hotel", '{"city": "Lisbon"}'),
        ],
        [PlannedText(FOLLOW_UP)],
    )
    async with running(agent, model) as run:
        await run.turn("flight and hotel please")

        first = min(begin for begin, _ in spans.values())
        last = max(end for _, end in spans.values())
        assert last - first < 0.5  # serial would be at least 0.6 s
        assert spans["flight"][0] < spans["hotel"][1]
        assert spans["hotel"][0] < spans["flight"][1]
        kinds = [type(e).__name__ for e in run.events if isinstance(e, ToolStarted | ToolFinished)]
        assert kinds == ["ToolStarted", "ToolStarted", "ToolFinished", "ToolFinished"]

        assert run.responses_created() == 2  # the calls' response and one follow-up
        items = run.store
        replies = [i for i in items if isinstance(i, Message) and i.role == "assistant"]
        assert [r.text for r in replies] == [FOLLOW_UP]
        assert items[-1] == replies[0]
        outputs = {i.output for i in items if isinstance(i, FunctionCallOutput)}
        assert outputs == {"TP123 on time", "room free in Lisbon"}
        assert pairs_intact(items)
        run.assert_converged()


# -- barge-in ----------------------------------------------------------------------------


def cancellable_tool() -> tuple[Any, dict[str, bool]]:
    state = {"cancelled": False, "finished": False}

    @function_tool(timeout=10)
    async def fetch_report() -> str:
        """A long report."""
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise
        state["finished"] = True
        return "report"

    return fetch_report, state


@pytest.mark.parametrize(
    "server_interrupts",
    [True, False],
    ids=["server-vad-cancels-the-reply", "runner-cancels-the-reply"],
)
async def test_barge_in_cancels_the_running_tool(server_interrupts: bool) -> None:
    """The user speaks while the reply that started a tool still streams: the tool is
    cancelled and its call answered with an abandoned output.

    With ``interrupt_response`` the server cancels the reply itself, and its
    ``response.done`` is usually handled before the runner sees the speech start: that
    is still a barge-in. Without it, the runner's interrupt cancels the reply."""
    tool, state = cancellable_tool()
    vad = {**SERVER_VAD, "interrupt_response": server_interrupts, "create_response": False}
    agent = Agent(instructions="Report.", tools=[tool], turn_detection=vad)
    model = scripted([PlannedCall("fetch_report"), PlannedText(LONG_REPLY)])
    config = SimConfig(stream_pause_ms=10)
    async with running(agent, model, config) as run:
        await run.runner.say("the report, please")
        await run.until(lambda e: isinstance(e, ToolStarted))
        generation = next(e.generation for e in run.of(se.GenerationStarted))
        run.runner.speak(audio.synthesize("stop, stop") + audio.silence(700))
        started = time.monotonic()
        await run.runner.wait_idle(IDLE)
        assert time.monotonic() - started < 3.0  # not the tool's 10 s

        assert state == {"cancelled": True, "finished": False}
        assert generation.status == "cancelled"
        assert run.runner.stats.interruptions == 1
        [finished] = run.of(ToolFinished)
        assert (finished.ok, finished.error) == (False, "cancelled")
        items = run.store
        [out] = [i for i in items if isinstance(i, FunctionCallOutput)]
        assert "abandoned" in json.loads(out.output)["error"]
        reply = next(i for i in items if isinstance(i, Message) and i.role == "assistant")
        assert len(reply.text) < len(LONG_REPLY)  # cut short
        assert any(isinstance(i, Message) and i.role == "user" and i.audio for i in items)
        assert pairs_intact(items)
        run.assert_converged()


class SummaryAware:
    """A scripted model that answers the runner's summary requests on its own (they are
    out-of-band and may come at any moment), recording what each one read."""

    def __init__(self, *responses: list[PlannedOutput]) -> None:
        self.script: deque[list[PlannedOutput]] = deque(responses)
        self.summary_requests: list[ResponseRequest] = []
        self.fallback = RuleBasedModel()

    def plan(self, request: ResponseRequest) -> list[PlannedOutput]:
        if request.instructions == SUMMARY_INSTRUCTIONS:
            self.summary_requests.append(request)
            return [PlannedText(f"SUMMARY #{len(self.summary_requests)}: the user greeted us")]
        if self.script:
            return self.script.popleft()
        return self.fallback.plan(request)


async def test_barge_in_after_an_out_of_band_summary_still_cancels_the_tool() -> None:
    """A summary (an out-of-band response) that starts and ends while the reply
    streams must not hide the reply from the barge-in."""
    tool, state = cancellable_tool()
    vad = {**SERVER_VAD, "create_response": False}
    agent = Agent(
        instructions="Report.",
        tools=[tool],
        turn_detection=vad,
        context_policy=SummarizeOlder(keep_turns=1, trigger="tool_started"),
    )
    model = SummaryAware(
        [PlannedText("Hello!")], [PlannedCall("fetch_report"), PlannedText(LONG_REPLY)]
    )
    async with running(agent, model, SimConfig(stream_pause_ms=10)) as run:
        await run.turn("hello")
        await run.runner.say("the report, please")
        await run.until(lambda e: isinstance(e, ContextEdited) and e.policy == "summarizer")
        assert len(model.summary_requests) == 1
        run.runner.speak(audio.synthesize("stop, stop") + audio.silence(700))
        await run.runner.wait_idle(IDLE)

        assert state == {"cancelled": True, "finished": False}
        assert run.runner.stats.interruptions == 1
        [out] = [i for i in run.store if isinstance(i, FunctionCallOutput)]
        assert "abandoned" in json.loads(out.output)["error"]
        first = run.store[0]
        assert isinstance(first, Message)
        assert first.role == "system"
        assert "SUMMARY #1" in first.text
        run.assert_converged()


# -- context policies --------------------------------------------------------------------


@function_tool
def get_weather(city: str) -> str:
    """Current weather.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


@function_tool
async def pay_bill(amount: int) -> dict[str, object]:
    """Pay a bill (a little slow).

    Args:
        amount: how much
    """
    await asyncio.sleep(0.05)
    return {"paid": amount, "card": "4111 1111 1111 1111"}


async def test_keep_last_turns_never_splits_a_call_from_its_output() -> None:
    """The trimmer pushes while each call is in flight (trigger ``tool_started``); the
    calls of every kept turn keep their outputs, and nothing dropped comes back."""
    agent = Agent(
        instructions="Weather and bills.",
        tools=[get_weather, pay_bill],
        context_policy=KeepLastTurns(turns=2, trigger="tool_started"),
    )
    async with running(agent) as run:  # the rule-based model calls tools it hears named
        turns = ["weather in Paris", "pay bill now", "weather in Oslo", "pay bill again"]
        for text in turns:
            await run.turn(text)
            assert pairs_intact(run.store)
            run.assert_converged()

        items = run.store
        users = [i.text for i in items if isinstance(i, Message) and i.role == "user"]
        assert users == turns[-2:]
        assert sum(isinstance(i, FunctionCall) for i in items) == 2
        assert pairs_intact(items)
        assert run.runner.stats.pushes >= 2
        assert run.runner.stats.pushes_during_calls >= 2
        assert run.runner.stats.failed == 0
        assert run.runner.stats.server_errors == []
        run.assert_converged()


async def test_keep_last_turns_moves_its_cut_before_a_straddling_call() -> None:
    """A call before the cut whose output is after it: both are kept."""
    ctx = ChatContext(
        [
            Message(id="u1", role="user", content="first"),
            FunctionCall(id="fc1", call_id="c1", name="pay_bill"),
            Message(id="u2", role="user", content="second"),
            FunctionCallOutput(id="o1", call_id="c1", output="paid"),
            Message(id="u3", role="user", content="third"),
        ]
    )
    edited = await KeepLastTurns(turns=2).edit(ctx)
    assert edited is not None
    assert edited.ids() == ["fc1", "u2", "o1", "u3"]


async def test_redactor_rewrites_a_card_number_in_the_store() -> None:
    agent = Agent(instructions="Bills.", tools=[pay_bill], context_policy=RedactToolOutputs())
    model = scripted([PlannedCall("pay_bill", '{"amount": 12}')], [PlannedText(FOLLOW_UP)])
    async with running(agent, model) as run:
        await run.turn("pay my bill")

        [out] = [i for i in run.store if isinstance(i, FunctionCallOutput)]
        assert "4111" not in out.output
        assert json.loads(out.output) == {"paid": 12, "card": "[redacted]"}
        [finished] = run.of(ToolFinished)
        assert "4111 1111 1111 1111" in finished.output  # the tool's own result
        assert [e.policy for e in run.of(ContextEdited)] == ["redactor"]
        assert not any("4111" in str(item) for item in run.store)
        assert pairs_intact(run.store)
        assert run.store[-1] == Message(id=run.store[-1].id, role="assistant", content=FOLLOW_UP)
        run.assert_converged()


async def test_summarizer_replaces_older_turns_with_a_system_summary() -> None:
    """The default summarizer is the runner's out-of-band response: it reads the older
    items and its text replaces them as one system message."""
    agent = Agent(instructions="Chat.", context_policy=SummarizeOlder(keep_turns=1))
    model = SummaryAware(
        [PlannedText("Hello Ada.")], [PlannedText("Noted.")], [PlannedText("See you.")]
    )
    async with running(agent, model) as run:
        for text in ["hi, I am Ada", "I like tea", "bye now"]:
            await run.turn(text)

        assert model.summary_requests, "the summarizer never asked the model"
        first_request = model.summary_requests[0]
        read = [i.text for i in first_request.conversation if isinstance(i, Message)]
        assert read == ["hi, I am Ada", "Hello Ada."]
        assert {e.policy for e in run.of(ContextEdited)} == {"summarizer"}

        items = run.store
        systems = [i for i in items if isinstance(i, Message) and i.role == "system"]
        assert systems
        assert systems[0] is items[0]
        assert all(
            s.text.startswith("Summary of the earlier conversation: SUMMARY #") for s in systems
        )
        users = [i.text for i in items if isinstance(i, Message) and i.role == "user"]
        assert users == ["bye now"]
        assert items[-1] == Message(id=items[-1].id, role="assistant", content="See you.")
        assert run.responses_created() == 3 + len(model.summary_requests)
        run.assert_converged()


# -- the transcript reads as a conversation -----------------------------------------------


async def test_a_typed_turn_is_a_user_transcript_before_its_reply() -> None:
    """say() tells the application what the user said, as a spoken turn's transcript
    does, and before the reply's transcript."""
    async with running(Agent("Be brief.")) as run:
        await run.turn("hello there")
        await run.until(lambda e: isinstance(e, Transcript) and e.role == "assistant")
        lines = [(e.role, e.text) for e in run.of(Transcript)]
        assert lines[0] == ("user", "hello there")
        assert lines[1][0] == "assistant"
        user_item = run.of(Transcript)[0].item_id
        assert user_item in [item.id for item in run.store]


async def test_a_user_can_speak_on_while_a_slow_summary_is_written() -> None:
    """``wait_idle(policies=False)`` waits for the reply, not for a policy still at work
    (its out-of-band summary included): a user does not wait for a summary to speak on,
    and the edit it pushes late, from a snapshot older than the new turn, keeps that
    turn (race R2)."""
    release = asyncio.Event()

    async def slow_summary(items: Any) -> str:
        await release.wait()
        return "they said hello"

    agent = Agent(
        instructions="Chat.",
        context_policy=SummarizeOlder(keep_turns=1, trigger="turn", summarizer=slow_summary),
    )
    async with running(agent) as run:
        await run.turn("hello")
        await run.runner.say("how are you")
        await run.runner.wait_idle(IDLE, policies=False)
        await run.runner.say("and the weather")  # the summary of turn 1 is still pending
        await run.runner.wait_idle(IDLE, policies=False)
        assert not run.runner.is_idle()
        assert run.runner.is_idle(policies=False)
        release.set()
        await run.runner.wait_idle(IDLE)
        users = [i.text for i in run.store if isinstance(i, Message) and i.role == "user"]
        assert users[-1] == "and the weather" and "hello" not in users
        assert any(isinstance(i, Message) and i.role == "system" for i in run.store)
        run.assert_converged()
