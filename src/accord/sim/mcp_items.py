"""MCP items as the simulator's store holds them.

accord's own items (accord.items) have no MCP kinds yet, so the simulator keeps the four
MCP item types of the SDK (``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request``,
``mcp_approval_response``) as :class:`McpItem`: an id, a type and the rest of the wire
fields as canonical JSON (hashable and comparable, like the frozen accord items).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from accord.protocol.wire_items import WireOtherItem

McpType: TypeAlias = Literal[
    "mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response"
]
MCP_TYPES: frozenset[str] = frozenset(get_args(McpType))

# The keys each type carries besides ``type`` and ``id`` (the SDK's models; optional
# ones are sent as null, as the server sends its other optional item fields).
FIELDS: dict[str, tuple[str, ...]] = {
    "mcp_list_tools": ("server_label", "tools"),
    "mcp_call": ("server_label", "name", "arguments", "approval_request_id", "output", "error"),
    "mcp_approval_request": ("server_label", "name", "arguments"),
    "mcp_approval_response": ("approval_request_id", "approve", "reason"),
}
REQUIRED: dict[str, frozenset[str]] = {
    "mcp_list_tools": frozenset({"server_label", "tools"}),
    "mcp_call": frozenset({"server_label", "name", "arguments"}),
    "mcp_approval_request": frozenset({"server_label", "name", "arguments"}),
    "mcp_approval_response": frozenset({"approval_request_id", "approve"}),
}


@dataclass(frozen=True, slots=True)
class McpItem:
    """One MCP item; ``body`` is its other fields as canonical JSON."""

    id: str
    type: McpType
    body: str = "{}"

    @staticmethod
    def make(item_id: str, kind: McpType, **fields: Any) -> McpItem:
        spelled = {key: fields.get(key) for key in FIELDS[kind]}
        return McpItem(item_id, kind, json.dumps(spelled, sort_keys=True))

    @property
    def fields(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    def get(self, key: str) -> Any:
        return self.fields.get(key)

    def with_fields(self, **changes: Any) -> McpItem:
        return McpItem.make(self.id, self.type, **{**self.fields, **changes})

    def wire(self) -> WireOtherItem:
        """The item as server events carry it (the SDK's key order: type, id, fields)."""
        return WireOtherItem(type=self.type, id=self.id, **self.fields)


def mcp_item_from_wire(wire: Mapping[str, Any], item_id: str) -> McpItem | str:
    """A client's MCP item, or why it is refused (a missing or unknown field)."""
    kind = wire.get("type")
    if kind not in MCP_TYPES:
        return f"Invalid value: '{kind}'. Not an MCP item type."
    given = set(wire) - {"type", "id", "object", "status"}
    unknown = given - set(FIELDS[str(kind)])
    if unknown:
        return f"Unknown parameter: 'item.{sorted(unknown)[0]}'."
    missing = REQUIRED[str(kind)] - given
    if missing:
        return f"Missing required parameter: 'item.{sorted(missing)[0]}'."
    if kind == "mcp_approval_response" and not isinstance(wire.get("approve"), bool):
        return "Invalid type for 'item.approve': expected a boolean."
    fields = {key: wire.get(key) for key in FIELDS[str(kind)]}
    return McpItem.make(item_id, kind, **fields)
