"""The server truncating by itself (``session.truncation``), through the session and the
simulator: the server drops the oldest items silently when a response starts over its
token limit. accord doubts them, asks with ``conversation.item.retrieve``, reports
:class:`ItemsEvicted`, and never sends a delete of a dropped item or an anchor on one;
the naive strategy keeps them in its mirror and is refused."""

from __future__ import annotations

import json

import pytest

from accord.client import events as app
from accord.items import Message
from accord.session import RealtimeSession, SessionOptions
from accord.sim.server import SimServer
from accord.verify.strategies import strategy_named
from test_session_support import TIMEOUT, Pump, assert_mirror_matches_store, settle

RETAIN_HALF = {
    "output_modalities": ["text"],
    "truncation": {
        "type": "retention_ratio",
        "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 300},
    },
}


async def opened(sim: SimServer, strategy: str = "accord") -> RealtimeSession:
    options = SessionOptions(seed=7, strategy=strategy_named(strategy), wait_timeout=TIMEOUT)
    return await RealtimeSession.connect(
        sim.url, api_key="sk-test", session=RETAIN_HALF, options=options
    )


async def turns(session: RealtimeSession, pump: Pump, count: int) -> None:
    """``count`` user turns, each answered; every third turn a writer pushes a snapshot
    taken two turns earlier in which it rewrote the oldest message (a slow policy)."""
    stale = session.chat_ctx
    for n in range(count):
        ctx = session.chat_ctx
        ctx.append(Message(id=f"u{n}", role="user", content=f"turn {n}: " + "words " * 12))
        await session.update_chat_ctx(ctx)
        generation = await session.generate_reply()
        await generation.wait()
        if n % 3 == 2:
            edited = stale.copy()
            first = next((i for i in edited.items if isinstance(i, Message)), None)
            if first is not None:
                edited.replace(Message(id=first.id, role=first.role, content="(shortened)"))
                await session.update_chat_ctx(edited)
            stale = session.chat_ctx


async def test_truncation_by_the_server_never_desyncs_and_is_reported() -> None:
    async with SimServer() as sim:
        session = await opened(sim)
        pump = Pump(session)
        try:
            await turns(session, pump, 30)
            server = sim.sessions[-1]
            await settle(session, server)
            evicted = server.store.evicted_ids()
            assert len(evicted) > 10  # the server did truncate, many times
            reported = [i for e in pump.of(app.ItemsEvicted) for i in e.item_ids]
            assert set(reported) <= set(evicted)
            assert_mirror_matches_store(session, server)
            assert pump.of(app.ServerErrorEvent) == []  # nothing named a dropped item
        finally:
            await pump.stop()
            await session.aclose()


@pytest.mark.parametrize("strategy", ["naive"])
async def test_the_naive_strategy_names_items_the_server_dropped(strategy: str) -> None:
    async with SimServer() as sim:
        session = await opened(sim, strategy)
        pump = Pump(session)
        try:
            await turns(session, pump, 30)
            server = sim.sessions[-1]
            await settle(session, server)
            errors = pump.of(app.ServerErrorEvent)
            mirror = [i.id for i in session.core.engine.mirror_items()]
            assert errors or mirror != server.store.ids(), json.dumps(mirror)
        finally:
            await pump.stop()
            await session.aclose()
