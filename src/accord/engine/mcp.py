"""When an MCP approval request may leave the conversation.

The server looks an ``mcp_approval_request`` up when the client's answer lands and again
when the next response runs the approved tool (``invalid_approval_request_id`` once it
is gone). So a push's delete of a request waits, like a call's while its tool runs,
until the request is no longer wanted: answered no, or answered yes and its
``mcp_call`` in the conversation (docs/mcp.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from accord.items import Item, McpApprovalRequest, McpApprovalResponse, McpCall


def approval_open(request: McpApprovalRequest, conversation: Iterable[Item]) -> bool:
    """``request`` is still wanted: not yet answered in ``conversation`` (the mirror and
    the creates on their way), or approved and not yet run."""
    answer: McpApprovalResponse | None = None
    for other in conversation:
        if isinstance(other, McpCall) and other.approval_request_id == request.id:
            return False
        if isinstance(other, McpApprovalResponse) and other.approval_request_id == request.id:
            answer = other
    return answer is None or answer.approve
