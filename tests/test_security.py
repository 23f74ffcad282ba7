"""No API key reaches a log: websockets' DEBUG handshake logging goes through accord's
redacting loggers, on the client and in the simulator."""

from __future__ import annotations

import logging

import pytest

from accord.session import RealtimeSession
from accord.sim.server import SimServer

SECRET = "sk-proj-TOPSECRET-000011112222"


async def test_debug_logs_never_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with SimServer() as sim, RealtimeSession.connect(sim.url, api_key=SECRET) as session:
        await session.update_instructions("hello")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Authorization" in text  # the handshake was logged...
    assert "TOPSECRET" not in text  # ...without the key


def test_endpoint_repr_hides_the_key() -> None:
    from accord.client.transport import Endpoint

    assert "TOPSECRET" not in repr(Endpoint.openai("gpt-realtime", SECRET))


async def test_a_server_that_drops_every_connection_is_not_redialled_forever() -> None:
    """Review finding: the reconnect budget must not reset on each short-lived link."""
    from accord.client import events as se
    from accord.sim.session import SimSession

    async with SimServer() as sim:

        def drop_soon(session: SimSession) -> None:
            session.faults.close_after_events = 2  # session.created, session.updated

        sim.on_session = drop_soon
        session = await RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session={"instructions": "x"},
            max_reconnect_attempts=3,
            backoff_initial=0.01,
            backoff_max=0.02,
        )
        seen: list[se.SessionEvent] = []

        async def drain() -> None:
            async for event in session.events():
                seen.append(event)

        import asyncio

        await asyncio.wait_for(drain(), 10)
        assert len(sim.sessions) <= 1 + 3  # the first connection and three attempts
        assert any(isinstance(e, se.Disconnected) for e in seen)
        await session.aclose()
