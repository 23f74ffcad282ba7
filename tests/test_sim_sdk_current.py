"""The current Realtime API's features (issue 18) driven by the official ``openai`` SDK
against the simulator: truncation settings, a preamble with parallel calls, an MCP
approval round, an out-of-band response and an image, every event read raw, validated
against the SDK's union and parsed by the SDK connection itself."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from sim_process import sim_serve
from test_sim_support import SdkStream, types, user_text

TOOLS: list[Any] = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
    {"type": "function", "name": "get_time", "parameters": {"type": "object"}},
    {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.com/mcp",
        "require_approval": "always",
    },
]


@asynccontextmanager
async def sdk_session(
    where: str,
) -> AsyncIterator[tuple[SimServer | None, AsyncRealtimeConnection, SdkStream]]:
    """The SDK connected to the in-process simulator, or to ``accord sim serve`` run as
    a user runs it (then the test reads nothing but the wire)."""
    async with contextlib.AsyncExitStack() as stack:
        sim: SimServer | None = None
        if where == "in-process":
            sim = await stack.enter_async_context(SimServer(SimConfig()))
            base_url = sim.base_url
        else:
            port = stack.enter_context(sim_serve())
            base_url = f"ws://127.0.0.1:{port}/v1"
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=base_url)
        async with client.realtime.connect(model="gpt-realtime-2.1", max_retries=0) as conn:
            yield sim, conn, SdkStream(conn)


@pytest.mark.parametrize("where", ["in-process", "accord-sim-serve"])
async def test_the_sdk_drives_every_new_feature(where: str) -> None:
    async with sdk_session(where) as (sim, conn, rx):
        await rx.until("session.created")
        truncation: Any = {
            "type": "retention_ratio",
            "retention_ratio": 0.5,
            "token_limits": {"post_instructions": 400},
        }
        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": TOOLS,
                "truncation": truncation,
                "reasoning": {"effort": "low"},
            }
        )
        updated = (await rx.until("session.updated"))[-1]["session"]
        assert updated["truncation"] == truncation
        listed = await rx.until("conversation.item.done")
        assert "mcp_list_tools.completed" in types(listed)

        # A preamble and two parallel calls.
        await conn.conversation.item.create(item=user_text("The weather and the time?"))  # type: ignore[arg-type]
        await conn.response.create()
        first = (await rx.until("response.done"))[-1]["response"]
        assert [o["type"] for o in first["output"]] == ["message", "function_call", "function_call"]
        for call in first["output"][1:]:
            await conn.conversation.item.create(
                item={"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}
            )
        await conn.response.create()
        await rx.until("response.done")

        # An MCP call that asks for approval, approved through the SDK.
        await conn.conversation.item.create(item=user_text("Please echo this"))  # type: ignore[arg-type]
        await conn.response.create()
        preamble, request = (await rx.until("response.done"))[-1]["response"]["output"]
        assert (preamble.get("phase"), request["type"]) == ("commentary", "mcp_approval_request")
        await conn.conversation.item.create(
            item={
                "type": "mcp_approval_response",
                "approval_request_id": request["id"],
                "approve": True,
            }
        )
        await rx.until("conversation.item.done")
        await conn.response.create()
        events = await rx.until("response.done")
        assert "response.mcp_call.completed" in types(events)

        # Out of band, with an image in its input: the conversation is untouched.
        before = None if sim is None else sim.sessions[0].store.entry_ids()
        await conn.response.create(
            response={
                "conversation": "none",
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "What is in it?"},
                            {"type": "input_image", "image_url": "data:image/png;base64,AA=="},
                        ],
                    }
                ],
            }
        )
        done = (await rx.until("response.done"))[-1]["response"]
        assert done["conversation_id"] is None
        assert sim is None or sim.sessions[0].store.entry_ids() == before
        usage = done["usage"]
        assert usage["input_tokens"] > 0 and "cached_tokens" in usage["input_token_details"]
