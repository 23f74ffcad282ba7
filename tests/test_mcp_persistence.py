"""MCP items survive what every item goes through off the wire: the journal's records
(a session with an MCP server must stay journaled and resumable) and a recording's
trace (it must replay). Both failed before (an MCP item had no tag)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from accord import Agent, RealtimeSession, Resumed
from accord.client.recording import item_from_json, item_to_json
from accord.items import (
    Item,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpListTools,
    McpTool,
)
from accord.journal.records import Entry, decode, encode
from accord.mcp import mcp_server
from accord.sim.server import SimServer

ITEMS: list[Item] = [
    McpListTools("l1", "docs", (McpTool("echo", "Says it back.", '{"type": "object"}'),)),
    McpCall("c1", "docs", "echo", '{"text": "hi"}', approval_request_id="r1", output="hi"),
    McpCall("c2", "docs", "always_fails", "{}", error="The tool crashed."),
    McpApprovalRequest("r1", "docs", "echo", '{"text": "hi"}'),
    McpApprovalResponse("a1", "r1", approve=False, reason="no"),
]


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: type(i).__name__)
def test_an_mcp_item_round_trips_through_a_recording(item: Item) -> None:
    assert item_from_json(item_to_json(item)) == item


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: type(i).__name__)
def test_an_mcp_item_round_trips_through_the_journal(item: Item) -> None:
    record = Entry(item, after="u1")
    back = decode(encode(record))
    assert isinstance(back, Entry) and back.item == item


async def test_a_journaled_mcp_turn_resumes_with_its_mcp_items(tmp_path: Path) -> None:
    agent = Agent(
        instructions="You help.",
        modalities=("text",),
        mcp_servers=[mcp_server("docs", "https://docs.example.com/mcp", require_approval="never")],
    )
    journal = f"sqlite:///{tmp_path / 'j.db'}"
    async with SimServer() as sim:
        async with RealtimeSession.connect(
            sim.url, api_key="sk-sim", session=agent.session_config(), journal=journal
        ) as session:
            runner = agent.start(session)
            await runner.say("Please echo hello")
            await runner.wait_idle(5)
            await runner.aclose()
            before = list(session.chat_ctx.items)
            key = session.key
        kinds = {type(i) for i in before}
        assert McpCall in kinds and McpListTools in kinds
        async with RealtimeSession.resume(
            sim.url, journal=journal, key=key, api_key="sk-sim"
        ) as resumed:
            async with asyncio.timeout(5):
                async for event in resumed.events():
                    if isinstance(event, Resumed):
                        assert event.lost == ()
                        break
            after = list(resumed.chat_ctx.items)
            # Every item is back, in order; the new server session lists the MCP
            # server's tools once more (a new listing item: the label is new to it).
            assert [i for i in after if i.id in {b.id for b in before}] == before
            extra = [i for i in after if i.id not in {b.id for b in before}]
            assert all(isinstance(i, McpListTools) for i in extra)
