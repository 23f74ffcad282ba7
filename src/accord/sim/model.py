"""The simulator's "model": what a response says, from rules or from a script.

Pluggable: :class:`RuleBasedModel` answers any conversation sensibly enough to drive a
demo (a tool call when the user's words name a tool, a reply to a tool's output, an echo
otherwise); :class:`ScriptedModel` plays planned responses in order, so a test decides
exactly what each response contains.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.arguments import fill_arguments

Phase = Literal["commentary", "final_answer"]


@dataclass(frozen=True, slots=True)
class PlannedText:
    """An assistant message (spoken as audio when the session outputs audio).

    ``phase``: what gpt-realtime-2.x calls the message (recorded: ``commentary`` for a
    preamble before a tool call, ``final_answer`` for an answer); None lets the
    simulator choose (``final_answer``). Other models send no phase.
    """

    text: str
    phase: Phase | None = None


@dataclass(frozen=True, slots=True)
class PlannedCall:
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class PlannedMcpCall:
    """A call of a tool of an MCP server (a session tool of type ``mcp``), which the
    server runs itself. The model names the tool; the server (sim/mcp.py) fills
    ``output`` or ``error`` from the server's script, or asks for approval first."""

    server_label: str
    name: str
    arguments: str = "{}"
    approval_request_id: str | None = None
    output: str | None = None
    error: str | None = None
    seconds: float = 0.0  # how long the MCP server takes to answer (McpTool.seconds)


@dataclass(frozen=True, slots=True)
class PlannedApproval:
    """An ``mcp_approval_request``: the server's stand-in for a call whose tool needs
    the client's approval (``require_approval``); the response ends with it."""

    server_label: str
    name: str
    arguments: str = "{}"


PlannedOutput = PlannedText | PlannedCall | PlannedMcpCall | PlannedApproval


@dataclass(frozen=True, slots=True)
class McpToolRef:
    """A tool an MCP server listed (its ``mcp_list_tools`` item): what the model may call."""

    server_label: str
    name: str
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponseRequest:
    """What the model sees: the conversation (or the out-of-band input), the
    instructions and the tools in force."""

    conversation: Sequence[Item]
    instructions: str = ""
    tools: Sequence[Mapping[str, Any]] = ()
    parallel_tool_calls: bool = True
    model: str = ""  # the session's model name
    mcp_tools: Sequence[McpToolRef] = ()  # the tools the session's MCP servers listed


class Model(Protocol):
    def plan(self, request: ResponseRequest) -> list[PlannedOutput]: ...


PREAMBLE = "I'll check that for you."
SUMMARY_ASK = re.compile(r"\bsummar(y|ise|ize)", re.IGNORECASE)
SUMMARY_CHARS = 300


def summarize(items: Sequence[Item]) -> str:
    """What a summarizer would keep: the user's requests and the tools' answers, in
    order, cut to :data:`SUMMARY_CHARS`."""
    asked = [i.text for i in items if isinstance(i, Message) and i.role == "user" and i.text]
    answered = [i.output[:60] for i in items if isinstance(i, FunctionCallOutput)]
    parts = []
    if asked:
        parts.append("The user said: " + "; ".join(asked) + ".")
    if answered:
        parts.append("Tools answered: " + "; ".join(answered) + ".")
    text = " ".join(parts) or "Nothing of note was said."
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 3] + "..."


def _last_turn(items: Sequence[Item]) -> Item | None:
    return items[-1] if items else None


@dataclass
class RuleBasedModel:
    """A deterministic stand-in for a speech model.

    - After a tool's output: "Done. <output>".
    - When the last user message names a tool (its name, or a word of its name), call it
      (a function tool, or a tool an MCP server listed);
      several tools named and parallel calls allowed: call them all at once. A
      gpt-realtime-2.x model says a short preamble first, in the same response
      (recorded: the parity session's text at output index 0, the call at 1).
    - Instructions that ask for a summary (a summarizer's out-of-band request): a
      summary of the items given, never a tool call.
    - Otherwise: an echo of the user's words.
    """

    def plan(self, request: ResponseRequest) -> list[PlannedOutput]:
        if SUMMARY_ASK.search(request.instructions):
            return [PlannedText(summarize(request.conversation))]
        last = _last_turn(request.conversation)
        if isinstance(last, FunctionCallOutput):
            return [PlannedText(f"Done. {last.output[:200]}")]
        if isinstance(last, FunctionCall):
            return [PlannedText("Let me check that.")]
        # The user's words: the last user message, not whatever came last (an assistant
        # reply was echoed back before, and each echo grew by the previous one).
        words = next(
            (
                item.text
                for item in reversed(request.conversation)
                if isinstance(item, Message) and item.role == "user"
            ),
            "",
        )
        calls: list[PlannedOutput] = [
            PlannedCall(str(tool["name"]), fill_arguments(tool, words))
            for tool in request.tools
            if tool.get("type", "function") == "function" and _names_tool(words, tool)
        ]
        calls += [
            PlannedMcpCall(ref.server_label, ref.name, fill_arguments(_as_tool(ref), words))
            for ref in request.mcp_tools
            if _names_tool(words, _as_tool(ref))
        ]
        if calls:
            calls = calls if request.parallel_tool_calls else calls[:1]
            if request.model.startswith("gpt-realtime-2"):
                return [PlannedText(PREAMBLE, phase="commentary"), *calls]
            return calls
        if not words:
            return [PlannedText("Hello! How can I help?")]
        return [PlannedText(f"You said: {words}")]


def _as_tool(ref: McpToolRef) -> dict[str, Any]:
    return {"name": ref.name, "parameters": ref.input_schema}


def _names_tool(words: str, tool: Mapping[str, Any]) -> bool:
    name = str(tool.get("name", ""))
    if not name or not words:
        return False
    lowered = words.lower()
    if name.lower() in lowered:
        return True
    parts = [p for p in re.split(r"[_\W]+", name.lower()) if len(p) > 3]
    return any(re.search(rf"\b{re.escape(p)}", lowered) for p in parts)


@dataclass
class ScriptedModel:
    """Planned responses in order; when the script runs out, ``fallback`` answers."""

    script: deque[list[PlannedOutput]] = field(default_factory=deque)
    fallback: Model = field(default_factory=RuleBasedModel)

    def add(self, *outputs: PlannedOutput) -> None:
        self.script.append(list(outputs))

    def plan(self, request: ResponseRequest) -> list[PlannedOutput]:
        if self.script:
            return self.script.popleft()
        return self.fallback.plan(request)
