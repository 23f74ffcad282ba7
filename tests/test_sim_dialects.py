"""``SimConfig.dialect``: servers other than OpenAI's that speak its protocol, one test per
difference (sim/dialects.py says where each was observed).

xAI's events are not all in the official SDK's union (``ping``, ``conversation.created``),
so these tests read raw frames instead of going through the validating helpers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from openai import AsyncAzureOpenAI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from accord.sim.config import SimConfig
from accord.sim.dialects import Dialect
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from test_sim_support import TEXT_ONLY, TIMEOUT, create, user_text

Event = dict[str, Any]


class Raw:
    """A websocket client that keeps every frame as sent, unvalidated."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Event] = []

    async def send(self, event: Event) -> None:
        await self.ws.send(json.dumps(event))

    async def until(self, done: Callable[[Event], bool] | str) -> list[Event]:
        test = (lambda e: e["type"] == done) if isinstance(done, str) else done
        got: list[Event] = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = json.loads(await self.ws.recv())
                self.events.append(event)
                got.append(event)
                if test(event):
                    return got


def tool_round_model() -> ScriptedModel:
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Oslo"}'))
    model.add(PlannedText("Sunny."))
    return model


@asynccontextmanager
async def dialect_session(
    dialect: Dialect, *, path: str = "/v1/realtime", query: str = "?model=gpt-realtime"
) -> AsyncIterator[tuple[SimServer, Raw]]:
    model = tool_round_model()
    async with SimServer(SimConfig(dialect=dialect), model_factory=lambda: model) as sim:
        url = f"ws://127.0.0.1:{sim.port}{path}{query}"
        async with connect(url, additional_headers={"api-key": "k"}) as ws:
            raw = Raw(ws)
            await raw.until("session.created")
            yield sim, raw


async def tool_round(raw: Raw) -> None:
    """A user message, a call, its output, the answer, then a delete of the message."""
    await raw.send(TEXT_ONLY)
    await raw.until("session.updated")
    await raw.send(create(user_text("weather?", "u1")))
    await raw.send({"type": "response.create"})
    first = (await raw.until("response.done"))[-1]["response"]
    call = first["output"][0]
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    await raw.send(create({**output, "id": "out1"}))
    await raw.send({"type": "response.create"})
    await raw.until("response.done")
    await raw.send({"type": "conversation.item.delete", "item_id": "u1"})
    await raw.until("conversation.item.deleted")


def of(raw: Raw, kind: str) -> list[Event]:
    return [e for e in raw.events if e["type"] == kind]


# -- xAI -----------------------------------------------------------------------------------


async def test_xai_sends_conversation_created_then_a_ping() -> None:
    async with dialect_session("xai") as (_sim, raw):
        events = await raw.until("ping")
        assert [e["type"] for e in raw.events] == [
            "session.created",
            "conversation.created",
            "ping",
        ]
        conversation = events[0]["conversation"]
        assert conversation["object"] == "realtime.conversation"
        assert isinstance(events[-1]["timestamp"], int)
        assert events[-1]["timestamp"] > 1_700_000_000_000  # milliseconds


async def test_xai_names_previous_item_id_on_every_event_and_0_on_content_part_added() -> None:
    async with dialect_session("xai") as (_sim, raw):
        await tool_round(raw)
        assert all("previous_item_id" in e for e in raw.events)
        parts = of(raw, "response.content_part.added")
        assert parts and all(e["previous_item_id"] == "0" for e in parts)
        assert of(raw, "response.created")[0]["previous_item_id"] is None


async def test_xai_adds_calls_and_outputs_with_a_null_previous_item_id_mid_conversation() -> None:
    async with dialect_session("xai") as (sim, raw):
        await tool_round(raw)
        added = {
            e["item"]["type"]: e["previous_item_id"] for e in of(raw, "conversation.item.added")
        }
        assert added["function_call"] is None and added["function_call_output"] is None
        # the store itself keeps the real order: the call, its output, the answer
        call, answer = (e["response"]["output"][0]["id"] for e in of(raw, "response.done"))
        assert sim.sessions[0].store.ids() == [call, "out1", answer]  # u1 deleted
        messages = [e for e in of(raw, "conversation.item.added") if e["item"]["type"] == "message"]
        assert [e["previous_item_id"] for e in messages] == [None, "out1"]


async def test_xai_sends_no_conversation_item_done() -> None:
    async with dialect_session("xai") as (_sim, raw):
        await tool_round(raw)
        assert of(raw, "conversation.item.added")
        assert not of(raw, "conversation.item.done")


async def test_xai_deleted_names_no_item() -> None:
    async with dialect_session("xai") as (sim, raw):
        await tool_round(raw)
        assert [e["item_id"] for e in of(raw, "conversation.item.deleted")] == [""]
        assert "u1" not in sim.sessions[0].store.ids()


async def test_xai_ids_are_uuids_and_a_restore_may_send_them_back() -> None:
    async with dialect_session("xai", query="?model=grok-voice-latest") as (_sim, raw):
        await tool_round(raw)
        reply = of(raw, "response.done")[-1]["response"]["output"][0]["id"]
        assert len(reply) == 36 and reply.count("-") == 4
        assert len(raw.events[0]["event_id"]) == 36
        restored = "0f5efcd5-76f1-4a00-9cac-d907e17d4434"  # an xAI id: 36 characters
        await raw.send(create({**user_text("again"), "id": restored}))
        added = (await raw.until("conversation.item.added"))[-1]
        assert added["item"]["id"] == restored


# -- Azure OpenAI --------------------------------------------------------------------------


async def test_azure_serves_its_ga_path_through_the_azure_sdk_client() -> None:
    """``AsyncAzureOpenAI`` opens ``/openai/v1/realtime?api-version=...&deployment=...``
    with an ``api-key`` header; a deployment may have any name."""
    config = SimConfig(dialect="azure", require_key="azure-key")
    async with SimServer(config) as sim:
        client = AsyncAzureOpenAI(
            api_key="azure-key",
            api_version="2025-08-28",
            azure_endpoint=f"http://127.0.0.1:{sim.port}",
            websocket_base_url=f"ws://127.0.0.1:{sim.port}/openai/v1",
        )
        async with client.realtime.connect(model="my-voice-deployment") as conn:
            created = json.loads(await conn.recv_bytes())
            assert created["type"] == "session.created"
            assert created["session"]["model"] == "gpt-realtime"  # what the deployment runs
        request = sim.sessions[0]
        assert request.session["model"] == "gpt-realtime"


async def test_azure_does_not_serve_openai_s_path() -> None:
    async with SimServer(SimConfig(dialect="azure")) as sim:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{sim.port}/v1/realtime?model=gpt-realtime")
        assert refused.value.response.status_code == 404


async def test_azure_sends_no_rate_limits_updated() -> None:
    async with dialect_session("azure", path="/openai/v1/realtime") as (_sim, raw):
        await tool_round(raw)
        assert of(raw, "response.done") and not of(raw, "rate_limits.updated")


async def test_azure_item_done_of_model_output_names_no_previous_item() -> None:
    async with dialect_session(
        "azure", path="/openai/v1/realtime", query="?api-version=2025-08-28&deployment=d1"
    ) as (_sim, raw):
        await tool_round(raw)
        output_ids = {e["item"]["id"] for e in of(raw, "response.output_item.added")}
        dones = of(raw, "conversation.item.done")
        assert {e["item"]["id"] for e in dones} >= output_ids
        for done in dones:
            if done["item"]["id"] in output_ids:
                assert done["previous_item_id"] is None
        out_done = next(e for e in dones if e["item"]["id"] == "out1")
        assert out_done["previous_item_id"] is not None  # a client item keeps its anchor


async def test_azure_content_part_events_carry_the_part_as_content_too() -> None:
    async with dialect_session("azure", path="/openai/v1/realtime") as (_sim, raw):
        await tool_round(raw)
        parts = of(raw, "response.content_part.added") + of(raw, "response.content_part.done")
        assert parts and all(e["content"] == e["part"] for e in parts)


# -- OpenAI --------------------------------------------------------------------------------


async def test_openai_is_the_default_and_sends_none_of_that() -> None:
    async with dialect_session("openai") as (_sim, raw):
        await tool_round(raw)
        kinds = {e["type"] for e in raw.events}
        assert {"conversation.item.done", "rate_limits.updated"} <= kinds
        assert not kinds & {"ping", "conversation.created"}
        assert all("content" not in e for e in of(raw, "response.content_part.added"))
        assert of(raw, "conversation.item.deleted")[0]["item_id"] == "u1"


def test_an_unknown_dialect_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        SimConfig(dialect="gemini")  # type: ignore[arg-type]
