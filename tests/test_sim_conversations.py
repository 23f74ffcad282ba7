"""``SimServer.conversations()``: every session's items as dicts, closed ones for a while."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer


async def one_session(sim: SimServer, text: str) -> None:
    async with RealtimeSession.connect(sim.url, api_key="sk-test") as session:
        ctx = session.chat_ctx
        ctx.append(Message(id=f"u_{text}", role="user", content=text))
        await session.update_chat_ctx(ctx)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_every_sessions_items_as_the_server_reports_them() -> None:
    async with SimServer(SimConfig()) as sim:
        await one_session(sim, "first")
        await one_session(sim, "second")
        conversations = sim.conversations()
    assert list(conversations) == [s.session_id for s in sim.sessions]
    first, second = conversations.values()
    assert first == [
        {
            "type": "message",
            "id": "u_first",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "first"}],
        }
    ]
    assert second[0]["id"] == "u_second"


async def test_closed_sessions_are_forgotten_after_the_keep_time() -> None:
    async with SimServer(SimConfig(closed_session_keep_s=0.0)) as sim:
        await one_session(sim, "gone")
        await until(lambda: sim.conversations() == {})
        assert sim.sessions == []


async def test_at_most_so_many_closed_sessions_are_kept() -> None:
    async with SimServer(SimConfig(closed_sessions_kept=1)) as sim:
        for text in ("a", "b", "c"):
            await one_session(sim, text)
        await until(lambda: len(sim.conversations()) == 1)
        (items,) = sim.conversations().values()
    assert items[0]["id"] == "u_c"
