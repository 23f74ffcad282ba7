"""MCP tools: scripted MCP servers, their tool lists, approvals and calls.

A session tool of type ``mcp`` (the SDK's ``Mcp`` tool: ``server_label``,
``server_url``, ``allowed_tools``, ``require_approval``) names a remote MCP server. The
real server connects to it, lists its tools and calls them itself; the simulator never
leaves the machine, so each ``server_label`` is played by an :class:`McpScript`
(``SimConfig.mcp_servers``; :data:`DEFAULT_SCRIPT` for any other label).

How it goes (docs/simulator.md, "MCP"):

- ``session.update`` adding a label lists its tools: an ``mcp_list_tools`` item is
  added (``conversation.item.added``), ``mcp_list_tools.in_progress``, then
  ``mcp_list_tools.completed`` and ``conversation.item.done`` with the tools (``failed``
  and an empty list when the script says so, or when the ``server_url``'s host ends in
  ``.invalid``, the reserved name that never resolves). Assumed order; unrecorded.
- The scripted model calls a listed tool when the user's words name it, as it does
  for function tools (sim/model.py).
- A call that ``require_approval`` covers becomes an ``mcp_approval_request`` item and
  the response ends there. The client answers with a ``conversation.item.create`` of an
  ``mcp_approval_response`` item and then ``response.create`` (assumed: as after a
  function call's output); that response runs the call (``approval_request_id`` set) when
  approved, or says it will not when refused.
- A call runs as an ``mcp_call`` output item (argument deltas, ``.in_progress``,
  ``.completed`` with the script's output or ``.failed`` with its error), and the model
  answers in the same response, since the server had the result at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from accord.sim.mcp_items import McpItem
from accord.sim.model import (
    McpToolRef,
    PlannedApproval,
    PlannedMcpCall,
    PlannedOutput,
    PlannedText,
)


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool of a scripted MCP server: what a call returns (``output``, where
    ``{arguments}`` is replaced by the call's arguments) or the error it fails with."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    output: str = "{arguments}"
    error: str | None = None
    read_only: bool = False
    seconds: float = 0.0  # the call runs this long (between in_progress and its outcome)

    def listed(self) -> dict[str, Any]:
        """The tool as ``mcp_list_tools.tools`` lists it (the SDK's keys)."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
            "annotations": {"read_only": self.read_only},
        }


@dataclass(frozen=True, slots=True)
class McpScript:
    """A scripted MCP server: its tools, or the error listing them fails with."""

    tools: tuple[McpTool, ...] = ()
    list_error: str | None = None


DEFAULT_SCRIPT = McpScript(
    (
        McpTool(
            "echo",
            "Says back what it was given.",
            {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            output="{arguments}",
            read_only=True,
        ),
        McpTool("always_fails", "A tool whose every call fails.", error="The tool crashed."),
    )
)


def mcp_tools(tools: Sequence[Any]) -> list[Mapping[str, Any]]:
    """The session's (or a response's) tools of type ``mcp``."""
    return [t for t in tools if isinstance(t, Mapping) and t.get("type") == "mcp"]


def allowed(tool: Mapping[str, Any], name: str, read_only: bool) -> bool:
    """``allowed_tools``: a list of names, or a filter of names and read-only tools."""
    rule = tool.get("allowed_tools")
    if rule is None:
        return True
    if isinstance(rule, list):
        return name in rule
    if isinstance(rule, Mapping):
        names = rule.get("tool_names")
        if names is not None and name not in names:
            return False
        return not (rule.get("read_only") and not read_only)
    return True


def _matches(rule: Any, name: str, read_only: bool) -> bool:
    if not isinstance(rule, Mapping):
        return False
    names = rule.get("tool_names")
    if names is not None and name in names:
        return True
    return bool(rule.get("read_only")) and read_only


def needs_approval(tool: Mapping[str, Any], name: str, read_only: bool) -> bool:
    """``require_approval``: ``"always"`` (the API's default), ``"never"``, or a filter
    whose ``never`` names the tools that run unasked (``always`` wins when both do)."""
    rule = tool.get("require_approval", "always")
    if rule is None or rule == "always":
        return True
    if rule == "never":
        return False
    if isinstance(rule, Mapping):
        if _matches(rule.get("always"), name, read_only):
            return True
        return not _matches(rule.get("never"), name, read_only)
    return True


@dataclass
class McpServers:
    """One session's MCP servers: their scripts, what each listed, and the approvals."""

    scripts: Mapping[str, McpScript] = field(default_factory=dict)
    listed: dict[str, tuple[McpTool, ...]] = field(default_factory=dict)  # by label

    def script(self, tool: Mapping[str, Any]) -> McpScript:
        label = str(tool.get("server_label"))
        script = self.scripts.get(label, DEFAULT_SCRIPT)
        host = urlparse(str(tool.get("server_url") or "")).hostname or ""
        if host.endswith(".invalid") and script.list_error is None:
            return McpScript((), f"Could not connect to MCP server at {tool.get('server_url')}.")
        return script

    def to_list(self, tools: Sequence[Any]) -> list[Mapping[str, Any]]:
        """The ``mcp`` tools whose label has not been listed yet."""
        return [t for t in mcp_tools(tools) if str(t.get("server_label")) not in self.listed]

    def record_list(self, tool: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """List ``tool``'s server: the listed tools (allowed ones only) or the error."""
        script = self.script(tool)
        label = str(tool.get("server_label"))
        if script.list_error is not None:
            self.listed[label] = ()
            return [], script.list_error
        kept = tuple(t for t in script.tools if allowed(tool, t.name, t.read_only))
        self.listed[label] = kept
        return [t.listed() for t in kept], None

    def refs(self, tools: Sequence[Any]) -> list[McpToolRef]:
        """What the model may call: the listed tools of the ``mcp`` tools in force."""
        return [
            McpToolRef(str(t.get("server_label")), tool.name, tool.input_schema)
            for t in mcp_tools(tools)
            for tool in self.listed.get(str(t.get("server_label")), ())
        ]

    def _find(self, label: str, name: str) -> McpTool | None:
        return next((t for t in self.listed.get(label, ()) if t.name == name), None)

    def resolve(
        self, plan: list[PlannedOutput], tools: Sequence[Any], entries: Sequence[Any]
    ) -> list[PlannedOutput]:
        """The plan as the server runs it: a pending approval answered first, each MCP
        call either asked about (and the response ends) or run, with its outcome."""
        answered = self._answered_approval(entries)
        if answered is not None:
            plan = answered
        config = {str(t.get("server_label")): t for t in mcp_tools(tools)}
        out: list[PlannedOutput] = []
        for step in plan:
            if not isinstance(step, PlannedMcpCall) or step.output or step.error:
                out.append(step)
                continue
            tool = self._find(step.server_label, step.name)
            server = config.get(step.server_label)
            if tool is None or server is None:
                out.append(PlannedText(f"I can't reach the tool {step.name}."))
                continue
            if step.approval_request_id is None and needs_approval(
                server, tool.name, tool.read_only
            ):
                out.append(PlannedApproval(step.server_label, step.name, step.arguments))
                return out  # the model waits for the client's answer
            out.append(_ran(step, tool))
        if out and isinstance(out[-1], PlannedMcpCall):
            out.append(_answer(out[-1]))
        return out

    def _answered_approval(self, entries: Sequence[Any]) -> list[PlannedOutput] | None:
        """An approval response last in the conversation, for a request not yet run:
        the call it approved, or a reply that it will not run."""
        last = entries[-1] if entries else None
        if not isinstance(last, McpItem) or last.type != "mcp_approval_response":
            return None
        request_id = last.get("approval_request_id")
        request = next(
            (e for e in entries if isinstance(e, McpItem) and e.id == request_id),
            None,
        )
        ran = any(
            isinstance(e, McpItem)
            and e.type == "mcp_call"
            and e.get("approval_request_id") == request_id
            for e in entries
        )
        if request is None or ran:
            return None
        label, name = str(request.get("server_label")), str(request.get("name"))
        if not last.get("approve"):
            return [PlannedText(f"All right, I won't run {name}.")]
        arguments = str(request.get("arguments") or "{}")
        return [PlannedMcpCall(label, name, arguments, approval_request_id=request_id)]


def _ran(step: PlannedMcpCall, tool: McpTool) -> PlannedMcpCall:
    if tool.error is not None:
        return replace(step, error=tool.error, seconds=tool.seconds)
    return replace(
        step, output=tool.output.replace("{arguments}", step.arguments), seconds=tool.seconds
    )


def _answer(call: PlannedMcpCall) -> PlannedText:
    if call.error is not None:
        return PlannedText(f"The tool {call.name} failed: {call.error}")
    return PlannedText(f"Done. {str(call.output)[:200]}")


def list_tools_item(item_id: str, label: str, tools: list[dict[str, Any]]) -> McpItem:
    return McpItem.make(item_id, "mcp_list_tools", server_label=label, tools=tools)


def approval_ids(entries: Sequence[Any]) -> set[str]:
    """The approval requests the conversation holds (what a response may answer)."""
    return {e.id for e in entries if isinstance(e, McpItem) and e.type == "mcp_approval_request"}


def call_error(message: str) -> dict[str, Any]:
    """An ``mcp_call``'s ``error``: the SDK's ``tool_execution_error``."""
    return {"type": "tool_execution_error", "message": message}
