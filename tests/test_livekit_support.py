"""Shared tools of the LiveKit adapter tests (no tests here).

- :func:`models`: the two realtime models a scenario runs under, accord's adapter and
  LiveKit's own OpenAI plugin, both pointed at one simulator on a loopback port (a dummy
  key; nothing leaves the machine).
- :func:`judge`: the end state of a scenario. *Lost* items are the ones the server
  deleted although the writer never removed them (every delete the store recorded, minus
  the removals the scenario's writer made on purpose), and creates the server refused
  (an output whose call was deleted: ``invalid_tool_call_id``). A loss touching the
  slow tool's call raises :class:`CallLostError`, any other :class:`ItemsLostError`;
  the LiveKit-plugin variants are strict xfails raising exactly ``CallLostError``, so
  they can only "fail as expected" by losing that call. Then the writer's edit must
  have applied (what it removed gone, what it added there), and the agent's context
  (its conversation items) must equal the server's, in order: *convergence*.
- :func:`quiet`: until the simulator has nothing running and nothing in transit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.plugins import openai as lk_openai

from accord.integrations.livekit import RealtimeModel
from accord.integrations.livekit.convert import from_livekit, is_conversation_item
from accord.items import FunctionCall, Item, Message
from accord.sim.server import SimServer
from accord.sim.session import SimSession

API_KEY = "sk-test-never-sent-anywhere"
TIMEOUT = 5.0
MODELS = ("accord", "livekit")


class ItemsLostError(AssertionError):
    """The server lost items the writer never removed (or refused one of them)."""


class CallLostError(ItemsLostError):
    """Among the losses: the function call whose tool was running (or its output)."""


def realtime_model(which: str, sim: SimServer) -> llm.RealtimeModel:
    """accord's adapter or LiveKit's plugin, text in and out, against ``sim``."""
    base_url = f"http://127.0.0.1:{sim.port}/v1"
    if which == "accord":
        return RealtimeModel(base_url=base_url, api_key=API_KEY, modalities=["text"])
    return lk_openai.realtime.RealtimeModel(base_url=base_url, api_key=API_KEY, modalities=["text"])


@asynccontextmanager
async def agent_session(which: str, sim: SimServer) -> AsyncIterator[AgentSession]:
    """A LiveKit ``AgentSession`` without a room (text in and out, as LiveKit's own
    tests run it) on the chosen model."""
    model = realtime_model(which, sim)
    try:
        async with AgentSession(llm=model) as session:
            yield session
    finally:
        await model.aclose()


def shape(item: Item) -> tuple[Any, ...]:
    if isinstance(item, Message):
        return ("message", item.id, item.role, item.text)
    if isinstance(item, FunctionCall):
        return ("call", item.id, item.call_id, item.name, item.arguments)
    return ("output", item.id, item.call_id, item.output)


def agent_conversation(items: Iterable[llm.ChatItem]) -> list[tuple[Any, ...]]:
    """The agent's context as the server would hold it (LiveKit's local items left out)."""
    return [shape(from_livekit(i)) for i in items if is_conversation_item(i)]


def server_conversation(sim_session: SimSession) -> list[tuple[Any, ...]]:
    return [shape(i) for i in sim_session.store.items()]


def losses(sim_session: SimSession, removed: set[str]) -> list[tuple[str, str]]:
    """(call id or "", what happened) for every delete the writer never asked for and
    every create the server refused."""
    store = sim_session.store
    lost: list[tuple[str, str]] = []
    for rec in store.history():
        if not rec.alive and rec.deleted_by is not None and rec.item.id not in removed:
            call_id = getattr(rec.item, "call_id", "")
            lost.append((call_id, f"{type(rec.item).__name__} {rec.item.id} deleted"))
    for attempt in store.creates:
        if attempt.error is not None:
            error = attempt.error
            lost.append((error.message, f"create of {attempt.item_id} refused: {error.code}"))
    return lost


def judge(
    sim_session: SimSession,
    agent_items: Iterable[llm.ChatItem],
    removed: set[str],
    *,
    slow_tool: str,
    added: Iterable[str] = (),
) -> None:
    """Nothing lost (the slow tool's call above all); the writer's edit applied (what it
    removed gone, what it ``added`` there); the agent's context converged with the
    server's."""
    calls = {
        rec.item.call_id
        for rec in sim_session.store.history()
        if isinstance(rec.item, FunctionCall) and rec.item.name == slow_tool
    }
    assert calls, f"the model never called {slow_tool}: the scenario did not run"
    lost = losses(sim_session, removed)
    report = "items lost:\n  " + "\n  ".join(what for _call, what in lost)
    if any(call and any(c in call for c in calls) for call, _what in lost):
        raise CallLostError(report)
    if lost:
        raise ItemsLostError(report)
    on_server = set(sim_session.store.ids())
    assert not removed & on_server, f"the writer's removals not applied: {removed & on_server}"
    assert set(added) <= on_server, f"the writer's additions missing: {set(added) - on_server}"
    agent = agent_conversation(agent_items)
    server = server_conversation(sim_session)
    assert agent == server, f"not converged:\nagent  {agent}\nserver {server}"


async def quiet(sim_session: SimSession, *, checks: int = 5, interval: float = 0.01) -> None:
    """Until the simulator has no response running and nothing in either channel."""

    async def loop() -> None:
        streak = 0
        while streak < checks:
            await asyncio.sleep(interval)
            idle = (
                sim_session.active is None
                and sim_session.inbox.pending == 0
                and sim_session.outbox.pending == 0
            )
            streak = streak + 1 if idle else 0

    await asyncio.wait_for(loop(), TIMEOUT)
