"""Faults a test can arm on a live simulated session: an injected error, a drop after
the k-th event. The session (and a client) must survive the first, and see the second
as an abrupt close."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accord.sim.server import SimServer


async def _recv(ws: object) -> dict[str, object]:
    frame = await asyncio.wait_for(ws.recv(), 5)  # type: ignore[attr-defined]
    data: dict[str, object] = json.loads(frame)
    return data


async def test_an_injected_error_arrives_and_the_session_keeps_working() -> None:
    async with SimServer() as sim, connect(f"{sim.url}?model=gpt-realtime") as ws:
        assert (await _recv(ws))["type"] == "session.created"
        sim.sessions[0].inject_error("rate_limit_exceeded", "Rate limit reached.")
        error = await _recv(ws)
        assert error["type"] == "error"
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "rate_limit_exceeded",
            "message": "Rate limit reached.",
            "param": None,
            "event_id": None,
        }
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "still there?"}],
                    },
                }
            )
        )
        assert (await _recv(ws))["type"] == "conversation.item.added"


async def test_close_after_the_kth_event() -> None:
    async with SimServer() as sim, connect(f"{sim.url}?model=gpt-realtime") as ws:
        await _recv(ws)  # session.created: event 1
        sim.sessions[0].faults.close_after_events = 2
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "x"}],
                    },
                }
            )
        )
        assert (await _recv(ws))["type"] == "conversation.item.added"  # event 2, then the drop
        with pytest.raises(ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
