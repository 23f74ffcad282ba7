"""Handoffs: a new agent starting on the same session (LiveKit reuses it).

LiveKit pushes the new agent's context when its activity starts. Handed the history,
the push is merged like any other and deletes nothing the history did not drop; an
agent without history asks for a fresh conversation, which empties the server's (as
LiveKit's plugin does) without deleting an item in flight.
"""

from __future__ import annotations

import asyncio

from livekit.agents import Agent, function_tool, llm

from accord.sim.server import SimServer
from test_livekit_support import TIMEOUT, agent_session, losses, quiet


class Billing(Agent):
    def __init__(self, history: llm.ChatContext | None) -> None:
        super().__init__(instructions="You handle billing.", chat_ctx=history)


class Reception(Agent):
    def __init__(self, *, hand_over_history: bool) -> None:
        self.next_agent: Billing | None = None

        @function_tool
        async def transfer_to_billing() -> Agent:
            """Transfer the caller to billing."""
            history = self.chat_ctx.copy() if hand_over_history else None
            self.next_agent = Billing(history)
            return self.next_agent

        super().__init__(instructions="You are the receptionist.", tools=[transfer_to_billing])


async def handed_over(*, hand_over_history: bool) -> tuple[Reception, list[str], SimServer]:
    async with SimServer() as sim, agent_session("accord", sim) as session:
        reception = Reception(hand_over_history=hand_over_history)
        await session.start(reception)
        await session.run(user_input="hello")
        before = sim.sessions[-1].store.ids()
        await session.run(user_input="please transfer me to billing")

        async def billing_started() -> None:
            while session.current_agent is not reception.next_agent or reception.next_agent is None:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(billing_started(), TIMEOUT)
        await asyncio.sleep(0.1)  # the new activity's start pushes its context
        await quiet(sim.sessions[-1])
        return reception, before, sim


async def test_a_handoff_with_history_deletes_nothing() -> None:
    reception, before, sim = await handed_over(hand_over_history=True)
    store = sim.sessions[-1].store
    assert losses(sim.sessions[-1], removed=set()) == []
    assert set(before) <= set(store.ids())
    assert reception.next_agent is not None
    held = [i.id for i in reception.next_agent.chat_ctx.items if i.type != "agent_config_update"]
    assert set(held) <= set(store.ids())


async def test_a_handoff_without_history_starts_a_fresh_conversation() -> None:
    _reception, before, sim = await handed_over(hand_over_history=False)
    store = sim.sessions[-1].store
    assert not set(before) & set(store.ids())  # the receptionist's turns are gone
    refused = [a for a in store.creates if a.error is not None]
    assert refused == []  # and nothing was sent that the server had to refuse
