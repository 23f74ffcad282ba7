"""Other servers that speak the OpenAI Realtime protocol, through RealtimeSession.

Azure OpenAI's GA endpoint: the resource URL, ``/openai/v1/realtime``, the deployment as
``model``, an ``api-key`` header and, for deployments reached through a dated API
version, an ``?api-version=`` query.
"""

from __future__ import annotations

import asyncio

from accord.client import events as app
from accord.client.transport import Endpoint
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from test_session_support import (
    TEXT_TOOLS,
    TIMEOUT,
    Pump,
    ToolRunner,
    assert_mirror_matches_store,
    settle,
)


def test_the_azure_endpoint_carries_the_deployment_the_version_and_the_key_header() -> None:
    endpoint = Endpoint.azure("wss://res.openai.azure.com", "voice", "az-key", "2025-08-28")
    assert endpoint.url == (
        "wss://res.openai.azure.com/openai/v1/realtime?model=voice&api-version=2025-08-28"
    )
    assert endpoint.headers == {"api-key": "az-key"}
    assert "az-key" not in repr(endpoint)


async def test_a_session_on_azures_ga_endpoint_with_an_api_version() -> None:
    async with SimServer(SimConfig(require_key="azure-key")) as sim:
        resource = f"ws://{sim.config.host}:{sim.port}"
        async with RealtimeSession.connect(
            resource,
            azure_deployment="gpt-realtime",
            azure_api_version="2025-08-28",
            api_key="azure-key",
            session={"output_modalities": ["text"]},
            wait_timeout=TIMEOUT,
        ) as session:
            ctx = session.chat_ctx
            ctx.append(Message(id="u1", role="user", content="hello from azure"))
            assert (await session.update_chat_ctx(ctx)).failed == ()
            generation = await asyncio.wait_for(session.generate_reply(), TIMEOUT)
            assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
            await settle(session, sim.sessions[-1])
            assert_mirror_matches_store(session, sim.sessions[-1])


# -- xAI: UUID ids (36 characters), no conversation.item.done, empty deleted ids ---------


async def test_a_tool_turn_and_edits_on_an_xai_server() -> None:
    """Against the xAI dialect: a typed turn, a tool call answered, the reply, then an
    edit that deletes the oldest item and rewrites another. Every item id the server
    gives is a UUID longer than OpenAI's 32-character limit, no item is ever
    ``.done``, and a delete is acknowledged with an empty item id: the mirror must still
    equal the server's conversation and nothing may be refused."""
    async with (
        SimServer(SimConfig(dialect="xai")) as sim,
        RealtimeSession.connect(
            sim.url + "?model=grok-voice",
            api_key="xai-key",
            session=TEXT_TOOLS,
            wait_timeout=TIMEOUT,
        ) as session,
    ):
        pump = Pump(session, ToolRunner(session))
        ctx = session.chat_ctx
        ctx.append(Message(id="u1", role="user", content="what is the weather in Oslo?"))
        assert (await session.update_chat_ctx(ctx)).failed == ()
        await asyncio.wait_for(session.generate_reply(), TIMEOUT)
        await pump.wait_for(app.FunctionCallReady)
        await settle(session, sim.sessions[-1])
        ids = [item.id for item in session.chat_ctx]
        assert any(len(i) == 36 for i in ids), ids  # the server's UUIDs, kept as given
        edit = session.chat_ctx
        edit.remove("u1")
        reply = next(i for i in edit if isinstance(i, Message) and i.role == "assistant")
        edit.replace(Message(id=reply.id, role="assistant", content="(redacted)"))
        report = await session.update_chat_ctx(edit)
        assert report.failed == (), report
        await settle(session, sim.sessions[-1])
        assert_mirror_matches_store(session, sim.sessions[-1])
        assert not pump.of(app.ServerErrorEvent)
        await pump.stop()
