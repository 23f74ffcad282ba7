"""A session's MCP side: tool listing after ``session.update``, and the client's MCP items.

accord's protocol package parses only the item types accord models, so a
``conversation.item.create`` of an MCP item (above all the ``mcp_approval_response`` that
answers an approval request) is taken here, from the raw frame, before that parse.
The rules are the store's for any create: a unique id, a live anchor, and for an
approval response an approval request the conversation holds (assumed error payload,
in the style of ``invalid_tool_call_id``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accord.protocol import ConversationItemAdded, ConversationItemDone
from accord.sim import errors
from accord.sim.errors import ServerError
from accord.sim.events import EventIds, Outgoing, error_event, prebuilt
from accord.sim.mcp import McpServers, approval_ids, list_tools_item
from accord.sim.mcp_items import MCP_TYPES, McpItem, mcp_item_from_wire
from accord.sim.store import ROOT, ConversationStore, Creator


@dataclass
class McpHost:
    """Lists MCP servers' tools and takes the client's MCP items, for one session."""

    servers: McpServers
    store: ConversationStore
    ids: EventIds
    emit: Callable[[Outgoing], None]
    new_id: Callable[[str], str]

    # -- tool lists ---------------------------------------------------------------------

    def session_updated(self, session: Mapping[str, Any]) -> None:
        """List the tools of every MCP server the session names for the first time."""
        for tool in self.servers.to_list(list(session.get("tools") or [])):
            self._list(tool)

    def _list(self, tool: Mapping[str, Any]) -> None:
        label = str(tool.get("server_label"))
        item = list_tools_item(self.new_id("item"), label, [])
        added = self.store.add_mcp_item(item, Creator.SERVER, None)
        previous = added.previous_item_id
        self.emit(
            ConversationItemAdded(
                event_id=self.ids.next(), previous_item_id=previous, item=item.wire()
            )
        )
        self.emit(prebuilt(self.ids, "mcp_list_tools.in_progress", item_id=item.id))
        tools, failure = self.servers.record_list(tool)
        listed = list_tools_item(item.id, label, tools)
        self.store.update_mcp_item(listed)
        outcome = "failed" if failure is not None else "completed"
        self.emit(prebuilt(self.ids, f"mcp_list_tools.{outcome}", item_id=item.id))
        self.emit(
            ConversationItemDone(
                event_id=self.ids.next(), previous_item_id=previous, item=listed.wire()
            )
        )

    # -- the client's MCP items ---------------------------------------------------------

    def intercept(self, frame: str) -> bool:
        """Take ``frame`` if it creates an MCP item (answered here); False otherwise."""
        if '"mcp_' not in frame:
            return False
        try:
            event = json.loads(frame)
        except ValueError:
            return False
        if not isinstance(event, dict) or event.get("type") != "conversation.item.create":
            return False
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in MCP_TYPES:
            return False
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        outcome = self._create(item, event.get("previous_item_id"), event_id)
        if isinstance(outcome, ServerError):
            self.emit(error_event(self.ids, outcome))
        return True

    def _create(
        self, wire: Mapping[str, Any], previous: Any, event_id: str | None
    ) -> McpItem | ServerError:
        item_id = wire.get("id") or self.new_id("item")
        if not isinstance(item_id, str):
            return ServerError("invalid_type", "Invalid type for 'item.id'.", "item.id", event_id)
        if self.store.is_live(item_id):
            return errors.duplicate_item_id(item_id, event_id)
        if previous is not None and previous != ROOT and not self.store.is_live(str(previous)):
            return errors.unknown_previous_item(str(previous), event_id)
        item = mcp_item_from_wire(wire, item_id)
        if isinstance(item, str):
            return ServerError("invalid_value", item, "item", event_id)
        if item.type == "mcp_approval_response":
            request = str(item.get("approval_request_id"))
            if request not in approval_ids(self.store.entries()):
                # Assumed: unconfirmed payload, by analogy with invalid_tool_call_id.
                return ServerError(
                    "invalid_approval_request_id",
                    f"Approval request ID '{request}' not found in conversation.",
                    "item.approval_request_id",
                    event_id,
                )
        added = self.store.add_mcp_item(
            item,
            Creator.CLIENT,
            event_id,
            previous_item_id=None if previous is None else str(previous),
        )
        for kind in (ConversationItemAdded, ConversationItemDone):
            self.emit(
                kind(
                    event_id=self.ids.next(),
                    previous_item_id=added.previous_item_id,
                    item=item.wire(),
                )
            )
        return item
