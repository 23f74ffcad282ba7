"""``RealtimeSession.expires_at``: the cap a rollover has to beat, from the server's
``session.expires_at`` or ``connect(max_session_s=...)``; and the margin before it."""

from __future__ import annotations

import asyncio
import time

from accord.client import events as app
from accord.client.expiry import expires_at, rollover_margin, server_expiry
from accord.client.quiet import switch_point
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer

TIMEOUT = 10.0


def test_server_expiry_reads_a_unix_time_and_ignores_what_is_not_one() -> None:
    assert server_expiry({"expires_at": 1_700_000_000}) == 1_700_000_000.0
    assert server_expiry({"expires_at": 0}) is None
    assert server_expiry({"expires_at": True}) is None
    assert server_expiry({"expires_at": "soon"}) is None
    assert server_expiry({}) is None
    assert expires_at({"expires_at": 5}, 10.0, 100.0) == 110.0
    assert expires_at({"expires_at": 5}, None, 100.0) == 5.0


def test_the_margin_is_30_s_scaled_down_for_short_caps() -> None:
    assert rollover_margin(None, 3600) == 30.0
    assert rollover_margin(None, 10) == 2.5
    assert rollover_margin(4.0, 10) == 4.0


async def _started(session: RealtimeSession) -> None:
    async for event in session.events():
        if isinstance(event, app.SessionStarted):
            return


async def test_expires_at_comes_from_session_created() -> None:
    async with SimServer(SimConfig(session_max_seconds=120)) as sim:
        before = time.time()
        session = await RealtimeSession.connect(sim.url, api_key="sk-test")
        async with session:
            await asyncio.wait_for(_started(session), TIMEOUT)
            assert session.expires_at is not None
            # The simulator sends whole seconds, as the real server does.
            assert before + 118 <= session.expires_at <= time.time() + 121


async def test_max_session_s_overrides_the_server() -> None:
    async with SimServer(SimConfig(session_max_seconds=120)) as sim:
        before = time.time()
        session = await RealtimeSession.connect(sim.url, api_key="sk-test", max_session_s=5.0)
        async with session:
            await asyncio.wait_for(_started(session), TIMEOUT)
            assert session.expires_at is not None
            assert before + 5 <= session.expires_at <= time.time() + 5


async def test_a_switch_point_is_never_while_a_reply_is_pending_or_running() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await RealtimeSession.connect(sim.url, api_key="sk-test", seed=3)
        async with session:
            await asyncio.wait_for(_started(session), TIMEOUT)
            ctx = session.chat_ctx
            ctx.append(Message(id="u1", role="user", content="hello"))
            await session.update_chat_ctx(ctx)
            generation = await session.generate_reply()
            assert not switch_point(session.core)  # the response is running
            assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
            for _ in range(100):
                if switch_point(session.core):
                    break
                await asyncio.sleep(0.02)
            assert switch_point(session.core)


async def test_expires_at_moves_on_with_each_new_server_session() -> None:
    """The next session.created brings the next expiry (here after the cap's close, the
    fallback; a rollover's new session brings it the same way), and max_session_s counts
    from it."""
    async with SimServer(SimConfig(session_max_seconds=1.0)) as sim:
        session = await RealtimeSession.connect(
            sim.url, api_key="sk-test", max_session_s=1.0, backoff_initial=0.02, rollover=False
        )
        async with session:
            await asyncio.wait_for(_started(session), TIMEOUT)
            first = session.expires_at
            assert first is not None
            await asyncio.wait_for(_started(session), TIMEOUT)  # the next session
            second = session.expires_at
            assert second is not None and second >= first + 0.9
