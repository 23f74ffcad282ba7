"""Out-of-band responses through the session (issue 18): ``generate_reply(out_of_band=
True, input=[...])`` runs beside the conversation with its own context, mixing item
references and inline items; nothing of it (neither the inline items nor the output)
enters the conversation, the items it reads stay on the server until it is done, and a
recorded session with one replays to the same verdict."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from accord.items import FunctionCall, Message
from accord.session import RealtimeSession, SessionOptions
from accord.sim.model import PlannedOutput, PlannedText, ResponseRequest
from accord.sim.server import SimServer
from accord.verify.replay import replay

TIMEOUT = 10.0
ASK = Message(id="oob-ask", role="user", content="Summarize the conversation in one line.")


class Reading:
    """A model that says how many items it read, and remembers which."""

    def __init__(self) -> None:
        self.read: list[list[str]] = []

    def plan(self, request: ResponseRequest) -> list[PlannedOutput]:
        self.read.append([item.id for item in request.conversation])
        return [PlannedText(f"read {len(request.conversation)} items")]


async def seeded(session: RealtimeSession) -> None:
    ctx = session.chat_ctx
    ctx.append(Message(id="u1", role="user", content="I want a table for two."))
    ctx.append(Message(id="a1", role="assistant", content="For when?"))
    ctx.append(Message(id="u2", role="user", content="Friday at eight."))
    report = await asyncio.wait_for(session.update_chat_ctx(ctx), TIMEOUT)
    assert not report.failed


async def converged(session: RealtimeSession, sim: SimServer) -> None:
    """Wait (bounded) until the mirror equals the simulator's store."""
    async with asyncio.timeout(TIMEOUT):
        while session.core.engine.mirror_items() != sim.sessions[-1].store.items():
            await asyncio.sleep(0.01)


def store_ids(sim: SimServer) -> list[str]:
    return [item.id for item in sim.sessions[-1].store.items()]


def sent_creates(trace: Path) -> list[dict[str, Any]]:
    """The ``response.create`` frames a recorded session sent."""
    records = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    frames = [json.loads(r["frame"]) for r in records if r["kind"] == "out"]
    return [f for f in frames if f["type"] == "response.create"]


async def test_an_out_of_band_reply_reads_its_input_and_never_enters_the_conversation(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "oob.jsonl"
    model = Reading()
    async with (
        SimServer(model_factory=lambda: model) as sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session={"output_modalities": ["text"]},
            options=SessionOptions(seed=5, record=trace),
        ) as session,
    ):
        await seeded(session)
        before = store_ids(sim)
        generation = await session.generate_reply(
            out_of_band=True, metadata={"purpose": "summary"}, input=["u1", "u2", ASK]
        )
        text = await asyncio.wait_for(generation.collect_text(), TIMEOUT)
        assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
        assert text == "read 3 items"
        assert model.read == [["u1", "u2", "oob-ask"]]  # its context is its input only
        # Nothing of it in the conversation: not the inline item, not the answer.
        await asyncio.sleep(0.2)
        assert store_ids(sim) == before == ["u1", "a1", "u2"]
        assert session.chat_ctx.ids() == before
        assert session.core.engine.mirror_items() == sim.sessions[-1].store.items()
    # What went on the wire: two references and the inline message, in order.
    (create,) = sent_creates(trace)
    assert create["response"]["conversation"] == "none"
    assert create["response"]["input"] == [
        {"type": "item_reference", "id": "u1"},
        {"type": "item_reference", "id": "u2"},
        {
            "type": "message",
            "id": "oob-ask",
            "role": "user",
            "content": [{"type": "input_text", "text": ASK.content}],
        },
    ]


async def test_an_item_an_out_of_band_reply_reads_is_not_deleted_under_it() -> None:
    # The push deleting u1 waits for the summary that reads it, as for an input_items
    # reference: the server would refuse the response ("not found in conversation").
    async with (
        SimServer() as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test", session={"output_modalities": ["text"]}, seed=6
        ) as session,
    ):
        await seeded(session)
        sim.sessions[-1].inbox.hold()
        reading = asyncio.ensure_future(session.generate_reply(out_of_band=True, input=["u1", ASK]))
        ctx = session.chat_ctx
        ctx.remove("u1")
        pushing = asyncio.ensure_future(session.update_chat_ctx(ctx))
        await asyncio.sleep(0.1)
        sim.sessions[-1].inbox.release()
        generation = await asyncio.wait_for(reading, TIMEOUT)
        assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
        report = await asyncio.wait_for(pushing, TIMEOUT)
        assert report.deferred == ("u1",)  # held until the summary that reads it is done
        assert not report.failed
        await converged(session, sim)
        assert store_ids(sim) == ["a1", "u2"]


async def test_input_takes_ids_and_items_only() -> None:
    async with (
        SimServer() as sim,
        RealtimeSession.connect(sim.url, api_key="sk-test", seed=7) as session,
    ):
        with pytest.raises(TypeError, match="not dict"):
            await session.generate_reply(out_of_band=True, input=[{"type": "message"}])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="not both"):
            await session.generate_reply(out_of_band=True, input=[ASK], input_items=("u1",))
        # A call may be read inline too (the items the application kept aside).
        call = FunctionCall(id="c1", call_id="call_1", name="lookup", arguments="{}")
        generation = await session.generate_reply(out_of_band=True, input=[call, ASK])
        assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"


async def test_a_recorded_out_of_band_reply_with_inline_items_replays(tmp_path: Path) -> None:
    trace = tmp_path / "oob.jsonl"
    async with SimServer() as sim:
        options = SessionOptions(seed=3, record=trace)
        async with RealtimeSession.connect(
            sim.url, api_key="sk-test", options=options, session={"output_modalities": ["text"]}
        ) as session:
            await seeded(session)
            generation = await session.generate_reply(out_of_band=True, input=["u2", ASK])
            assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    (recorded,) = [c for c in calls if c.get("name") == "generate_reply"]
    assert recorded["args"]["input_items"][0] == "u2"
    assert recorded["args"]["input_items"][1]["item"]["id"] == "oob-ask"
    result = replay(trace)
    assert result.identical
    assert not result.violations
