"""MCP tools through the agent API against the simulator (issue 18): the server's
listing visible in ``chat_ctx``, a call that needs no approval, approvals answered by
``Agent.mcp_approval`` (always, never, a callable, a callable that fails), each ending
with the client's mirror equal to the simulator's store, MCP items included.

The simulator's scripted MCP server (accord.sim.mcp) lists ``echo`` and
``always_fails``; a user turn that names a tool makes the scripted model call it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import TypeAdapter

from accord.agent import Agent, AgentEvent, AgentRunner
from accord.client.options import SessionOptions
from accord.items import (
    Item,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpListTools,
    Message,
)
from accord.mcp import McpApproval, McpApprovalRequested, McpCallDone, McpToolsListed, mcp_server
from accord.protocol.wire_items import ServerItem, item_from_wire
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.mcp import McpScript, McpTool
from accord.sim.mcp_items import McpItem as SimMcpItem
from accord.sim.server import SimServer
from accord.verify.strategies import strategy_named

IDLE = 5.0
SERVER_ITEM: TypeAdapter[Any] = TypeAdapter(ServerItem)


def docs_server(require_approval: Any = "never") -> dict[str, Any]:
    return mcp_server("docs", "https://docs.example.com/mcp", require_approval=require_approval)


def store_items(sim: SimServer) -> list[Item]:
    """The simulator's conversation as accord items, MCP items included."""
    out: list[Item] = []
    for entry in sim.sessions[0].store.entries():
        if isinstance(entry, SimMcpItem):  # read as a client reads it off the wire
            wire = SERVER_ITEM.validate_python(entry.wire().model_dump(exclude_none=False))
            out.append(item_from_wire(wire))
        else:
            out.append(entry)
    return out


@dataclass
class McpRun:
    sim: SimServer
    session: RealtimeSession
    runner: AgentRunner
    events: list[AgentEvent] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def turn(self, text: str) -> None:
        await self.runner.say(text)
        await self.runner.wait_idle(IDLE)
        await asyncio.sleep(0.05)  # the last item.done events reach the collector

    def assert_converged(self) -> None:
        assert self.session.core.engine.mirror_items() == store_items(self.sim)
        assert list(self.session.chat_ctx.items) == store_items(self.sim)


@contextlib.asynccontextmanager
async def running(
    agent: Agent,
    strategy: str = "accord",
    config: SimConfig | None = None,
) -> AsyncIterator[McpRun]:
    """The agent on a fresh simulator, once the MCP server's tool list is in."""
    options = SessionOptions(seed=7, strategy=strategy_named(strategy), wait_timeout=IDLE)
    async with (
        SimServer(config or SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test-not-a-key", session=agent.session_config(), options=options
        ) as session,
    ):
        runner = agent.start(session)
        run = McpRun(sim, session, runner)

        async def collect() -> None:
            async for event in runner.events():
                run.events.append(event)

        collector = asyncio.ensure_future(collect())
        try:
            async with asyncio.timeout(IDLE):
                while not run.of(McpToolsListed):
                    await asyncio.sleep(0.01)
            yield run
        finally:
            await runner.aclose()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(collector, IDLE)


def agent_with(require_approval: Any, approval: McpApproval = None) -> Agent:
    return Agent(
        instructions="You help.",
        modalities=("text",),
        mcp_servers=[docs_server(require_approval)],
        mcp_approval=approval,
    )


async def test_the_servers_tool_list_is_in_chat_ctx() -> None:
    async with running(agent_with("never")) as run:
        (listed,) = run.of(McpToolsListed)
        assert isinstance(listed.listing, McpListTools)
        assert [t.name for t in listed.listing.tools] == ["echo", "always_fails"]
        assert list(run.session.chat_ctx.items) == [listed.listing]
        run.assert_converged()


async def test_a_call_without_approval_runs_and_is_mirrored() -> None:
    async with running(agent_with("never")) as run:
        await run.turn("Please echo hello there")
        (done,) = run.of(McpCallDone)
        assert done.ok and done.call.name == "echo" and done.call.output == done.call.arguments
        kinds = [type(i) for i in run.session.chat_ctx.items]
        assert kinds == [McpListTools, Message, McpCall, Message]
        assert not run.of(McpApprovalRequested)
        run.assert_converged()


async def test_a_failing_mcp_tool_is_reported_with_its_error() -> None:
    async with running(agent_with("never")) as run:
        await run.turn("Try the always_fails tool")
        (done,) = run.of(McpCallDone)
        assert not done.ok and done.call.error is not None and "crashed" in done.call.error
        run.assert_converged()


def _approve_echo(request: McpApprovalRequest) -> bool:
    return request.name == "echo"


async def _approve_later(request: McpApprovalRequest) -> bool:
    await asyncio.sleep(0.05)  # a person takes a moment to say yes
    return True


def _broken(request: McpApprovalRequest) -> bool:
    raise RuntimeError("approval service down")


@pytest.mark.parametrize(
    ("approval", "approved", "reason"),
    [
        ("always", True, None),
        (_approve_echo, True, None),
        (_approve_later, True, None),
        ("never", False, "never approves"),
        (None, False, "no approval policy"),
        (_broken, False, "approval service down"),
    ],
    ids=["always", "callable", "async-callable", "never", "none", "raising"],
)
async def test_an_approval_request_is_answered_and_the_model_goes_on(
    approval: McpApproval, approved: bool, reason: str | None
) -> None:
    async with running(agent_with("always", approval)) as run:
        await run.turn("Please echo the password")
        (asked,) = run.of(McpApprovalRequested)
        assert asked.approved is approved
        if reason is None:
            assert asked.reason is None
        else:
            assert asked.reason is not None and reason in asked.reason
        items = run.session.chat_ctx.items
        (request,) = [i for i in items if isinstance(i, McpApprovalRequest)]
        (answer,) = [i for i in items if isinstance(i, McpApprovalResponse)]
        assert answer.approval_request_id == request.id and answer.approve is approved
        calls = [i for i in items if isinstance(i, McpCall)]
        if approved:
            (call,) = calls
            assert call.approval_request_id == request.id and call.output is not None
            assert [d.call for d in run.of(McpCallDone)] == [call]
        else:
            assert calls == [] and not run.of(McpCallDone)
        last = items[-1]
        assert isinstance(last, Message) and last.role == "assistant"
        text = last.text
        assert text.startswith("Done.") if approved else "won't run echo" in text
        run.assert_converged()


# -- races: a push while the server's MCP items are still wanted -------------------------


async def _push_without_the_request(run: McpRun, gate: asyncio.Event) -> str:
    """While a person decides, a policy trims the approval request it saw; then the
    person says yes. Returns the request's id."""
    async with asyncio.timeout(IDLE):
        while not any(isinstance(i, McpApprovalRequest) for i in run.session.chat_ctx.items):
            await asyncio.sleep(0.01)
    ctx = run.session.chat_ctx
    (request,) = [i for i in ctx.items if isinstance(i, McpApprovalRequest)]
    ctx.remove(request.id)
    push = asyncio.ensure_future(run.session.update_chat_ctx(ctx))
    await asyncio.sleep(0.2)  # the push's delete has had every chance to go out
    gate.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(push, IDLE)
    return request.id


def _gated(gate: asyncio.Event) -> McpApproval:
    async def approve(request: McpApprovalRequest) -> bool:
        await gate.wait()
        return True

    return approve


def answers_follow_requests(items: list[Item]) -> bool:
    """Every approval answer comes after the request it answers."""
    at = {item.id: n for n, item in enumerate(items)}
    return all(
        at.get(i.approval_request_id, len(items)) < at[i.id]
        for i in items
        if isinstance(i, McpApprovalResponse)
    )


async def test_a_push_waits_for_an_approval_request_still_wanted() -> None:
    gate = asyncio.Event()
    async with running(agent_with("always", _gated(gate)), "accord") as run:
        await run.runner.say("Please echo the password")
        request_id = await _push_without_the_request(run, gate)
        await run.runner.wait_idle(IDLE)
        await asyncio.sleep(0.05)
        (done,) = run.of(McpCallDone)
        assert done.ok and done.call.approval_request_id == request_id
        items = list(run.session.chat_ctx.items)
        ids = [i.id for i in items]
        # The request's delete waited; the runner then wanted it back, since the answer
        # must follow it: request, answer, the call it approved, the reply.
        at = ids.index(request_id)
        kinds = [type(i) for i in items[at:]]
        assert kinds == [McpApprovalRequest, McpApprovalResponse, McpCall, Message]
        assert len(run.of(McpApprovalRequested)) == 1 and answers_follow_requests(items)
        assert isinstance(items[-1], Message) and items[-1].text.startswith("Done.")
        assert run.runner.stats.server_errors == []
        run.assert_converged()


async def test_the_naive_strategy_deletes_the_request_and_the_person_is_asked_again() -> None:
    """naive deletes the request at once; the answer then lands where the request was,
    before the request the runner wanted back, and the model asks for approval again:
    the person's yes was lost."""
    gate = asyncio.Event()
    async with running(agent_with("always", _gated(gate)), "naive") as run:
        await run.runner.say("Please echo the password")
        await _push_without_the_request(run, gate)
        with contextlib.suppress(Exception):
            await run.runner.wait_idle(IDLE)
        items = list(run.session.chat_ctx.items)
        asked = len(run.of(McpApprovalRequested))
        assert asked > 1 or not answers_follow_requests(items), (asked, items)


SLOW_ECHO = McpScript((McpTool("echo", "Says it back, slowly.", seconds=0.6),))


async def _push_without_the_running_call(run: McpRun) -> str:
    """While the server runs a slow MCP tool, a policy trims the call it sees."""
    async with asyncio.timeout(IDLE):
        while not any(isinstance(i, McpCall) for i in run.session.chat_ctx.items):
            await asyncio.sleep(0.005)
    ctx = run.session.chat_ctx
    (call,) = [i for i in ctx.items if isinstance(i, McpCall)]
    assert call.output is None  # still running on the server
    ctx.remove(call.id)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(run.session.update_chat_ctx(ctx), IDLE)
    return call.id


def _deleted_before_done(sent: list[Any], item_id: str) -> bool:
    """The server deleted ``item_id`` before the response that made it was done."""
    for event in sent:
        kind = getattr(event, "type", None)
        if kind == "conversation.item.deleted" and getattr(event, "item_id", None) == item_id:
            return True
        if kind == "response.done":
            return False
    return False


@pytest.mark.parametrize("strategy", ["accord", "naive"])
async def test_a_push_during_a_running_mcp_call(strategy: str) -> None:
    """A policy trims an MCP call the server is still running: accord holds the delete
    until the response is done (the call is in flight, like a function call whose tool
    runs); naive deletes it under the running tool."""
    config = SimConfig(mcp_servers={"docs": SLOW_ECHO})
    async with running(agent_with("never"), strategy, config) as run:
        await run.runner.say("Please echo hello there")
        call_id = await _push_without_the_running_call(run)
        with contextlib.suppress(Exception):
            await run.runner.wait_idle(IDLE)
        await asyncio.sleep(0.05)
        under_the_tool = _deleted_before_done(run.sim.sessions[0].sent, call_id)
        if strategy == "naive":
            assert under_the_tool
            return
        assert not under_the_tool
        (done,) = run.of(McpCallDone)
        assert done.call.id == call_id and done.ok  # the tool's outcome reached the model
        last = run.session.chat_ctx.items[-1]
        assert isinstance(last, Message) and last.text.startswith("Done.")
        assert call_id not in run.session.chat_ctx  # the writer's trim, once it was safe
        assert run.runner.stats.server_errors == []
        run.assert_converged()
