"""Faults a test can arm on a live simulated session: an injected error, a drop after
the k-th event. The session (and a client) must survive the first, and see the second
as an abrupt close."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accord.sim.config import ServerErrorFaults, SimConfig
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


def _create(event_id: str, item: dict[str, object]) -> str:
    return json.dumps({"type": "conversation.item.create", "event_id": event_id, "item": item})


_USER = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "hello"}],
}


async def test_an_armed_refusal_answers_the_operation_with_server_error() -> None:
    async with SimServer() as sim, connect(f"{sim.url}?model=gpt-realtime") as ws:
        await _recv(ws)
        session = sim.sessions[0]
        session.faults.refuse.extend(["create", "delete"])
        await ws.send(_create("c1", {**_USER, "id": "u1"}))
        error = await _recv(ws)
        assert error["type"] == "error"
        detail = error["error"]
        assert isinstance(detail, dict)
        assert detail["type"] == detail["code"] == "server_error"
        assert detail["event_id"] == "c1"
        assert session.session_id in str(detail["message"])
        assert "u1" not in session.store.ids()  # refused: not done
        await ws.send(_create("c2", {**_USER, "id": "u1"}))
        assert (await _recv(ws))["type"] == "conversation.item.added"
        await _recv(ws)  # .done
        await ws.send(
            json.dumps({"type": "conversation.item.delete", "event_id": "d1", "item_id": "u1"})
        )
        error = await _recv(ws)
        assert error["type"] == "error" and error["error"]["event_id"] == "d1"  # type: ignore[index]
        assert "u1" in session.store.ids()  # a refused delete leaves the item where it was


async def test_a_server_error_rate_refuses_that_share_of_operations() -> None:
    config = SimConfig(server_errors=ServerErrorFaults(rate=0.5, kinds=frozenset({"create"})))
    async with SimServer(config) as sim, connect(f"{sim.url}?model=gpt-realtime") as ws:
        await _recv(ws)
        outcomes: list[str] = []
        for n in range(40):
            await ws.send(_create(f"c{n}", {**_USER, "id": f"u{n}"}))
            first = await _recv(ws)
            outcomes.append(str(first["type"]))
            if first["type"] == "conversation.item.added":
                await _recv(ws)
        refused = outcomes.count("error")
        assert 8 <= refused <= 32, outcomes  # seeded: the same share on every run
        assert len(sim.sessions[0].store.ids()) == 40 - refused


def test_a_server_error_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        ServerErrorFaults(rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        ServerErrorFaults(kinds=frozenset({"truncate"}))  # type: ignore[arg-type]
