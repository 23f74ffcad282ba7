"""Race R2 and its start-of-session twin, run through a real LiveKit ``AgentSession``.

Both scenarios run twice on one simulator script: with accord's ``RealtimeModel`` and
with LiveKit's own OpenAI plugin (the same agent, the same policy, one import apart).
With accord nothing is lost and the agent's context ends equal to the server's. With
LiveKit's plugin the policy's stale push deletes what it never saw, the slow tool's
call among it, and the tool's output is then refused: a strict xfail that must fail
with :class:`CallLostError`, so the suite stays green and the evidence stays honest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from livekit.agents import Agent, AgentSession, function_tool, llm

from accord.integrations.livekit.observed import Observations
from accord.items import ChatContext, ContextBase
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from test_livekit_support import TIMEOUT, CallLostError, agent_session, judge, quiet

LOSES = pytest.mark.xfail(
    strict=True,
    raises=CallLostError,
    reason="LiveKit's plugin diffs a stale context against its mirror: it deletes the "
    "call in flight (and the turn around it), then the call's output is refused",
)


class SlowTool:
    """A tool that reports when it starts and returns only when released."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, result: str) -> str:
        self.started.set()
        await asyncio.wait_for(self.release.wait(), TIMEOUT)
        return result


# -- R2: a summarizer pushes a stale snapshot while the slow tool runs --------------------


class WeatherAgent(Agent):
    def __init__(self, tool: SlowTool) -> None:
        self.slow = tool

        @function_tool
        async def get_weather(city: str) -> str:
            """The weather in a city."""
            return await self.slow.run(f"{city}: 18C, clear")

        super().__init__(instructions="You are a helpful assistant.", tools=[get_weather])


def summarized(stale: llm.ChatContext) -> tuple[llm.ChatContext, set[str], str]:
    """The summarizer's edit of its snapshot: the first turn and a half (u0 a0 u1)
    replaced by one summary message; returns it, the ids it removed, the summary's id."""
    messages = [i for i in stale.items if i.type == "message"]
    dropped = {i.id for i in messages[:3]}
    edited = stale.copy()
    edited.items = [i for i in edited.items if i.id not in dropped]
    summary = llm.ChatMessage(role="system", content=["Summary: Ada said hello, twice."])
    first_kept = next(n for n, i in enumerate(edited.items) if i.type == "message")
    edited.items.insert(first_kept, summary)
    return edited, dropped, summary.id


async def race_r2(which: str) -> None:
    tool = SlowTool()
    async with SimServer(model_factory=ScriptedModel) as sim, agent_session(which, sim) as session:
        agent = WeatherAgent(tool)
        await session.start(agent)
        for text in ("hello", "my name is Ada", "I live in Paris"):
            await session.run(user_input=text)
        stale = agent.chat_ctx.copy()  # the summarizer's snapshot: u0 a0 u1 a1 u2 a2
        turn = asyncio.ensure_future(session.run(user_input="what's the weather there?"))
        await asyncio.wait_for(tool.started.wait(), TIMEOUT)  # u3 and the call are on the server
        edited, removed, summary = summarized(stale)  # the slow summary is done: push it
        await agent.update_chat_ctx(edited)
        tool.release.set()
        await asyncio.wait_for(turn, TIMEOUT)
        await quiet(sim.sessions[-1])
        judge(
            sim.sessions[-1],
            agent.chat_ctx.items,
            removed,
            slow_tool="get_weather",
            added=[summary],
        )


async def test_r2_stale_summary_during_a_slow_tool_loses_nothing_with_accord() -> None:
    await race_r2("accord")


@LOSES
async def test_r2_stale_summary_during_a_slow_tool_loses_the_call_with_livekits_plugin() -> None:
    await race_r2("livekit")


# -- an agent-initiated reply right after start calls the slow tool; a policy pushes --------


class GreeterAgent(Agent):
    """Greets on entering and looks the caller up (slowly); a context policy loads the
    caller's profile from a CRM meanwhile and pushes it into the context it read at
    start."""

    def __init__(self, tool: SlowTool) -> None:
        self.slow = tool
        self.policy: asyncio.Task[None] | None = None
        self.note = ""

        @function_tool
        async def lookup_account(phone: str) -> str:
            """The caller's account."""
            return await self.slow.run(f"account of {phone}: gold")

        super().__init__(instructions="Greet the caller.", tools=[lookup_account])

    async def on_enter(self) -> None:
        snapshot = self.chat_ctx.copy()  # nothing said yet
        self.policy = asyncio.ensure_future(self.load_profile(snapshot))
        self.session.generate_reply(instructions="Greet the caller and look up the account.")

    async def load_profile(self, snapshot: llm.ChatContext) -> None:
        await asyncio.wait_for(self.slow.started.wait(), TIMEOUT)  # the CRM is slow too
        note = snapshot.add_message(role="system", content="Caller profile: since 2019.")
        self.note = note.id
        await self.update_chat_ctx(snapshot)


def greeting_script() -> ScriptedModel:
    model = ScriptedModel()
    model.add(
        PlannedText("Welcome back! One moment."),
        PlannedCall("lookup_account", '{"phone": "555-0100"}'),
    )
    model.add(PlannedText("You have a gold account."))
    return model


async def reply_at_start(which: str) -> None:
    tool = SlowTool()
    async with (
        SimServer(model_factory=greeting_script) as sim,
        agent_session(which, sim) as session,
    ):
        agent = GreeterAgent(tool)
        await session.start(agent)
        await asyncio.wait_for(tool.started.wait(), TIMEOUT)
        assert agent.policy is not None
        await asyncio.wait_for(agent.policy, TIMEOUT)  # pushed while the tool runs
        tool.release.set()
        await until_replied(session)
        await quiet(sim.sessions[-1])
        judge(
            sim.sessions[-1],
            agent.chat_ctx.items,
            set(),
            slow_tool="lookup_account",
            added=[agent.note],
        )


async def until_replied(session: AgentSession) -> None:
    """Until the follow-up reply to the tool's output is in the session's history."""

    def replied() -> bool:
        return any(
            isinstance(i, llm.ChatMessage) and "gold account" in (i.text_content or "")
            for i in session.history.items
        )

    async def loop() -> None:
        while not replied():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), TIMEOUT)


async def test_reply_at_start_with_a_slow_tool_loses_nothing_with_accord() -> None:
    await reply_at_start("accord")


@LOSES
async def test_reply_at_start_with_a_slow_tool_loses_the_call_with_livekits_plugin() -> None:
    await reply_at_start("livekit")


# -- the base is what saves the call -------------------------------------------------------


async def test_pushed_as_if_it_had_seen_everything_accords_model_loses_the_call_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same R2 run with the derived base replaced by "the writer saw everything"
    (what a diff against the mirror assumes): the call is lost, as with LiveKit's plugin.
    So the verdict above rests on the derived base, not on the scenario's timing."""
    derive = Observations._agent_push

    def saw_everything(
        self: Observations, items: Sequence[llm.ChatItem], current: ChatContext
    ) -> ChatContext:
        pushed = derive(self, items, current)
        return ChatContext(pushed.items, base=ContextBase(0, tuple(current.items)))

    monkeypatch.setattr(Observations, "_agent_push", saw_everything)
    with pytest.raises(CallLostError):
        await race_r2("accord")
