"""MCP tools in the simulator (issue 18): tool lists, calls, failures and approvals, every
event validated against the official SDK's types (test_sim_support.validated).

The default scripted server (sim/mcp.py) lists ``echo`` (returns its arguments) and
``always_fails``; a user message that names a tool makes the scripted model call it.
"""

from __future__ import annotations

import json
from typing import Any

from accord.sim.config import SimConfig
from accord.sim.mcp import McpScript, McpTool, allowed, needs_approval
from accord.sim.mcp_items import McpItem
from accord.sim.server import SimServer
from test_sim_support import Event, Wire, create, types, user_text
from trace_rules import Trace, check


def docs(require_approval: Any = "never", **extra: Any) -> dict[str, Any]:
    return {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.com/mcp",
        "require_approval": require_approval,
        **extra,
    }


async def opened(sim: SimServer, *tools: dict[str, Any]) -> tuple[Wire, list[Event]]:
    wire = await Wire.open(sim.url)
    await wire.until("session.created")
    session = {"type": "realtime", "output_modalities": ["text"], "tools": list(tools)}
    await wire.send({"type": "session.update", "session": session})
    await wire.until("session.updated")
    listed = await wire.until("conversation.item.done") if tools else []
    return wire, listed


async def ask(wire: Wire, words: str) -> list[Event]:
    await wire.send(create(user_text(words)))
    await wire.send({"type": "response.create"})
    return await wire.until("response.done")


def rules_hold(wire: Wire, name: str) -> None:
    found = check(Trace(wire.events, list(wire.sent), name=name))
    assert not found, "\n".join(map(str, found))


async def test_a_session_update_lists_the_servers_tools() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, listed = await opened(sim, docs())
        assert types(listed) == [
            "conversation.item.added",
            "mcp_list_tools.in_progress",
            "mcp_list_tools.completed",
            "conversation.item.done",
        ]
        item = listed[-1]["item"]
        assert (item["type"], item["server_label"]) == ("mcp_list_tools", "docs")
        assert [t["name"] for t in item["tools"]] == ["echo", "always_fails"]
        assert listed[0]["item"]["tools"] == []
        assert all(e.get("item_id", item["id"]) == item["id"] for e in listed)
        assert sim.sessions[0].session["tools"][0]["type"] == "mcp"
        # The same label again lists nothing new.
        session = {"type": "realtime", "tools": [docs()]}
        await wire.send({"type": "session.update", "session": session})
        await wire.until("session.updated")
        assert not [e for e in await wire.quiet() if e["type"].startswith("mcp_list_tools")]
        await wire.close()


async def test_a_call_runs_on_the_server_and_the_answer_follows() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, _ = await opened(sim, docs())
        events = await ask(wire, "Please echo hello there")
        done = events[-1]["response"]
        call, answer = done["output"]
        assert (call["type"], call["name"], call["server_label"]) == ("mcp_call", "echo", "docs")
        assert json.loads(call["arguments"]) == {"text": "Please echo hello there"}
        assert call["output"] == call["arguments"] and call["error"] is None
        assert answer["type"] == "message" and answer["content"][0]["text"].startswith("Done.")
        kinds = [e["type"] for e in events if e.get("item_id") == call["id"]]
        assert kinds[0] == "response.mcp_call_arguments.delta"
        assert kinds[-3:] == [
            "response.mcp_call_arguments.done",
            "response.mcp_call.in_progress",
            "response.mcp_call.completed",
        ]
        deltas = [e["delta"] for e in events if e["type"] == "response.mcp_call_arguments.delta"]
        assert "".join(deltas) == call["arguments"]
        entries = sim.sessions[0].store.entries()
        assert [getattr(e, "type", type(e).__name__) for e in entries] == [
            "mcp_list_tools",
            "Message",
            "mcp_call",
            "Message",
        ]
        assert done["usage"]["output_tokens"] > 0
        await wire.quiet()
        rules_hold(wire, "mcp_call")
        await wire.close()


async def test_a_failing_tool_reports_failed_with_its_error() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, _ = await opened(sim, docs())
        events = await ask(wire, "Try the always_fails tool")
        call, answer = events[-1]["response"]["output"]
        assert call["error"] == {"type": "tool_execution_error", "message": "The tool crashed."}
        assert call["output"] is None
        assert "response.mcp_call.failed" in types(events)
        assert "response.mcp_call.completed" not in types(events)
        assert "failed" in answer["content"][0]["text"]
        await wire.close()


async def test_an_unreachable_server_fails_its_list() -> None:
    async with SimServer(SimConfig()) as sim:
        broken = docs(server_url="https://down.invalid/mcp")
        wire, listed = await opened(sim, broken)
        assert "mcp_list_tools.failed" in types(listed)
        assert listed[-1]["item"]["tools"] == []
        done = (await ask(wire, "Please echo this"))[-1]["response"]
        assert [o["type"] for o in done["output"]] == ["message"]  # nothing to call
        await wire.close()


async def test_an_approval_request_then_the_clients_answer() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, _ = await opened(sim, docs("always"))
        first = (await ask(wire, "Please echo the password"))[-1]["response"]
        (request,) = first["output"]
        assert (request["type"], request["name"]) == ("mcp_approval_request", "echo")
        assert json.loads(request["arguments"]) == {"text": "Please echo the password"}
        answer = {
            "type": "mcp_approval_response",
            "id": "approve_1",
            "approval_request_id": request["id"],
            "approve": True,
        }
        await wire.send(create(answer))
        added = await wire.acked("approve_1")
        assert added["previous_item_id"] == request["id"]
        assert added["item"] == {**answer, "reason": None}
        await wire.send({"type": "response.create"})
        second = (await wire.until("response.done"))[-1]["response"]
        call, reply = second["output"]
        assert call["type"] == "mcp_call" and call["approval_request_id"] == request["id"]
        assert call["arguments"] == request["arguments"]
        assert reply["content"][0]["text"].startswith("Done.")

        # A refusal: the next request is answered no, and the tool does not run.
        third = (await ask(wire, "Echo it again"))[-1]["response"]
        (again,) = third["output"]
        refusal = {"type": "mcp_approval_response", "approval_request_id": again["id"]}
        await wire.send(create({**refusal, "approve": False, "reason": "no"}))
        await wire.until("conversation.item.done")
        await wire.send({"type": "response.create"})
        fourth = (await wire.until("response.done"))[-1]["response"]
        assert [o["type"] for o in fourth["output"]] == ["message"]
        assert "won't run echo" in fourth["output"][0]["content"][0]["text"]
        await wire.quiet()
        rules_hold(wire, "mcp_approval")
        await wire.close()


async def test_approval_filters_and_allowed_tools() -> None:
    crm = McpScript(
        (
            McpTool("lookup_customer", output="Ada Lovelace", read_only=True),
            McpTool("delete_customer", output="deleted"),
            McpTool("hidden_tool"),
        )
    )
    tool = {
        "type": "mcp",
        "server_label": "crm",
        "server_url": "https://crm.example.com/mcp",
        "allowed_tools": ["lookup_customer", "delete_customer"],
        "require_approval": {"never": {"read_only": True}},
    }
    async with SimServer(SimConfig(mcp_servers={"crm": crm})) as sim:
        wire, listed = await opened(sim, tool)
        names = [t["name"] for t in listed[-1]["item"]["tools"]]
        assert names == ["lookup_customer", "delete_customer"]
        looked = (await ask(wire, "lookup_customer Ada"))[-1]["response"]["output"]
        assert (looked[0]["type"], looked[0]["output"]) == ("mcp_call", "Ada Lovelace")
        deleting = (await ask(wire, "delete_customer Ada"))[-1]["response"]["output"]
        assert [o["type"] for o in deleting] == ["mcp_approval_request"]
        await wire.close()


async def test_mcp_items_are_refused_like_any_item_and_retrieved() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, listed = await opened(sim, docs())
        list_id = listed[-1]["item"]["id"]
        ghost = {"type": "mcp_approval_response", "approval_request_id": "nope", "approve": True}
        await wire.send({**create(ghost), "event_id": "e1"})
        assert (await wire.error_for("e1"))["code"] == "invalid_approval_request_id"
        await wire.send({**create({**ghost, "id": list_id}), "event_id": "e2"})
        assert (await wire.error_for("e2"))["code"] == "item_create_duplicate_item_id"
        await wire.send({**create({"type": "mcp_approval_response", "id": "x"}), "event_id": "e3"})
        assert (await wire.error_for("e3"))["code"] == "invalid_value"
        await wire.send({"type": "conversation.item.retrieve", "item_id": list_id})
        retrieved = (await wire.until("conversation.item.retrieved"))[-1]["item"]
        assert retrieved["type"] == "mcp_list_tools" and len(retrieved["tools"]) == 2
        # A later item anchors on the MCP item; a delete removes it like any other.
        await wire.send(create(user_text("after", "u1")))
        assert (await wire.acked("u1"))["previous_item_id"] == list_id
        await wire.send({"type": "conversation.item.delete", "item_id": list_id})
        await wire.until("conversation.item.deleted")
        store = sim.sessions[0].store
        assert store.entry_ids() == ["u1"] and store.ids() == ["u1"]
        assert not any(isinstance(e, McpItem) for e in store.entries())
        await wire.close()


def test_require_approval_and_allowed_tools_as_the_sdk_spells_them() -> None:
    def tool(**fields: Any) -> dict[str, Any]:
        return {"type": "mcp", "server_label": "x", **fields}

    assert needs_approval(tool(), "t", False)  # the API's default: always
    assert not needs_approval(tool(require_approval="never"), "t", False)
    by_name = tool(require_approval={"never": {"tool_names": ["safe"]}})
    assert not needs_approval(by_name, "safe", False) and needs_approval(by_name, "t", False)
    reading = tool(require_approval={"never": {"read_only": True}, "always": {"tool_names": ["r"]}})
    assert not needs_approval(reading, "q", True)
    assert needs_approval(reading, "r", True)  # always wins
    assert allowed(tool(), "t", False)
    assert allowed(tool(allowed_tools=["t"]), "t", False)
    assert not allowed(tool(allowed_tools=["u"]), "t", False)
    assert not allowed(tool(allowed_tools={"read_only": True}), "t", False)
    assert allowed(tool(allowed_tools={"tool_names": ["t"]}), "t", False)
