"""Other servers that speak the OpenAI Realtime protocol, through RealtimeSession.

Azure OpenAI's GA endpoint: the resource URL, ``/openai/v1/realtime``, the deployment as
``model``, an ``api-key`` header and, for deployments reached through a dated API
version, an ``?api-version=`` query.
"""

from __future__ import annotations

import asyncio

from accord.client.transport import Endpoint
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from test_session_support import TIMEOUT, assert_mirror_matches_store, settle


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
