"""MCP tools for an agent: the session tool that names a server, the approval policy,
and the events the runner reports.

The server runs MCP tools itself; the client only mirrors their items and, when the
server asks (``mcp_approval_request``), answers yes or no with an
``mcp_approval_response`` item and a ``response.create`` so the model carries on. The
answer comes from :data:`McpApproval`: ``"always"``, ``"never"``, or a callable (sync
or async) given the request. With none configured the request is denied, with a log
line, so a session that asks is never left hanging (docs/mcp.md).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from accord.items import McpApprovalRequest, McpCall, McpListTools

log = logging.getLogger("accord.mcp")

#: How an agent answers approval requests: a fixed answer, or a callable deciding per
#: request (True approves; an async callable is awaited). None: deny, with a warning.
McpApproval: TypeAlias = (
    Literal["always", "never"] | Callable[[McpApprovalRequest], bool | Awaitable[bool]] | None
)

DENIED_WITHOUT_POLICY = "no approval policy configured (Agent.mcp_approval)"


@dataclass(frozen=True, slots=True)
class McpToolsListed:
    """The server listed an MCP server's tools (``listing.tools``)."""

    listing: McpListTools


@dataclass(frozen=True, slots=True)
class McpApprovalRequested:
    """The server asked to run an MCP tool and the runner answered ``approved``
    (``reason``: why not, when denied). Reported once the answer is on its way."""

    request: McpApprovalRequest
    approved: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class McpCallDone:
    """An MCP call the server ran is complete: ``call.output`` or ``call.error``."""

    call: McpCall

    @property
    def ok(self) -> bool:
        return self.call.error is None


McpEvent: TypeAlias = McpToolsListed | McpApprovalRequested | McpCallDone


def mcp_server(
    server_label: str,
    server_url: str,
    *,
    require_approval: str | Mapping[str, Any] = "always",
    allowed_tools: Sequence[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The session tool that names an MCP server (``Agent(mcp_servers=[...])``).

    ``require_approval`` is the API's spelling (``"always"``, its default, ``"never"``
    or a filter ``{"never": {"tool_names": [...]}}``); ``extra`` passes other fields
    (``headers``, ``authorization``...) as they are.
    """
    tool: dict[str, Any] = {
        "type": "mcp",
        "server_label": server_label,
        "server_url": server_url,
        "require_approval": require_approval,
        **extra,
    }
    if allowed_tools is not None:
        tool["allowed_tools"] = list(allowed_tools)
    return tool


async def decide(policy: McpApproval, request: McpApprovalRequest) -> tuple[bool, str | None]:
    """(approved, reason) for ``request`` under ``policy``. A callable that raises
    denies (the tool must not run on an error), and is logged."""
    if policy is None:
        log.warning(
            "MCP approval request %s (%s.%s) denied: %s",
            request.id,
            request.server_label,
            request.name,
            DENIED_WITHOUT_POLICY,
        )
        return False, DENIED_WITHOUT_POLICY
    if policy == "always":
        return True, None
    if policy == "never":
        return False, "the agent never approves MCP calls"
    if isinstance(policy, str):
        raise ValueError(f"mcp_approval must be 'always', 'never' or a callable: {policy!r}")
    try:
        answer = policy(request)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as exc:  # the tool does not run when the judge fails
        log.warning("MCP approval callback failed for %s: %s: denied", request.id, exc)
        return False, f"approval callback failed: {exc}"
    return (True, None) if answer else (False, "denied by the application")


__all__ = [
    "DENIED_WITHOUT_POLICY",
    "McpApproval",
    "McpApprovalRequested",
    "McpCallDone",
    "McpEvent",
    "McpToolsListed",
    "decide",
    "mcp_server",
]
