"""An MCP output item of a response, streamed in the order the SDK's events imply.

``mcp_call``: ``response.output_item.added`` (arguments empty) ->
``conversation.item.added`` -> ``response.mcp_call_arguments.delta`` ... ->
``response.mcp_call_arguments.done`` -> ``response.mcp_call.in_progress`` (the server
runs the tool) -> ``response.mcp_call.completed`` (or ``.failed``, the item's ``error``
set) -> ``conversation.item.done`` -> ``response.output_item.done``.
``mcp_approval_request``: added whole (it has no delta events), then done.

The order is assumed from the SDK's event types and the function-call order recorded;
no MCP session has been recorded. The events accord's protocol package does not model
go out prebuilt (sim/events.py ``Prebuilt``), with the SDK's keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
)
from accord.protocol.wire_items import WireOtherItem
from accord.sim.events import EventIds, Outgoing, Prebuilt, prebuilt
from accord.sim.mcp import call_error
from accord.sim.mcp_items import McpItem
from accord.sim.model import PlannedApproval, PlannedMcpCall
from accord.sim.store import ConversationStore, Creator


class Streaming(Protocol):
    """What an MCP output needs of the response streaming it (sim/responder.py)."""

    @property
    def response_id(self) -> str: ...
    @property
    def in_band(self) -> bool: ...
    @property
    def delta_chars(self) -> int: ...
    @property
    def pause_s(self) -> float: ...
    @property
    def done_for_cancelled(self) -> bool: ...

    @property
    def store(self) -> ConversationStore: ...
    @property
    def ids(self) -> EventIds: ...
    @property
    def emit(self) -> Callable[[Outgoing], None]: ...


@dataclass
class McpOutput:
    """One MCP output item being streamed (the response's ``_Output`` for MCP)."""

    index: int
    item: McpItem  # the item as it ends (arguments whole, output or error set)
    sent_chars: int = 0
    sent_ms: int = 0  # never audio; kept so a response counts every output alike
    begun: bool = False
    done: bool = False
    reported: WireOtherItem | None = None
    added_previous: str | None = None
    after_first: bool = False
    seconds: float = 0.0  # the MCP server's time to answer, once the arguments are out
    running: bool = False  # arguments.done and mcp_call.in_progress were sent

    @staticmethod
    def planned(index: int, step: PlannedMcpCall | PlannedApproval, item_id: str) -> McpOutput:
        if isinstance(step, PlannedApproval):
            item = McpItem.make(
                item_id,
                "mcp_approval_request",
                server_label=step.server_label,
                name=step.name,
                arguments=step.arguments,
            )
            return McpOutput(index, item)
        error = call_error(step.error) if step.error is not None else None
        item = McpItem.make(
            item_id,
            "mcp_call",
            server_label=step.server_label,
            name=step.name,
            arguments=step.arguments,
            approval_request_id=step.approval_request_id,
            output=step.output,
            error=error,
        )
        return McpOutput(index, item, seconds=step.seconds)

    @property
    def is_call(self) -> bool:
        return self.item.type == "mcp_call"

    def streamed_text(self) -> str:
        return str(self.item.get("arguments") or "")[: self.sent_chars]

    def partial(self) -> McpItem:
        if not self.is_call:
            return self.item
        return self.item.with_fields(arguments=self.streamed_text(), output=None, error=None)

    def begin(self, run: Streaming) -> None:
        self.begun = True
        start = self.partial()
        run.emit(
            ResponseOutputItemAdded(
                event_id=run.ids.next(),
                response_id=run.response_id,
                output_index=self.index,
                item=start.wire(),
            )
        )
        if not run.in_band:
            return
        first = run.store.first_id()
        added = run.store.add_mcp_item(
            start, Creator.RESPONSE, run.response_id, response_id=run.response_id
        )
        self.added_previous = added.previous_item_id
        self.after_first = added.previous_item_id is not None and added.previous_item_id == first
        run.emit(
            ConversationItemAdded(
                event_id=run.ids.next(), previous_item_id=self.added_previous, item=start.wire()
            )
        )

    async def stream(self, run: Streaming) -> None:
        if not self.is_call:
            return
        arguments = str(self.item.get("arguments") or "")
        step = max(1, run.delta_chars)
        while self.sent_chars < len(arguments):
            chunk = arguments[self.sent_chars : self.sent_chars + step]
            self.sent_chars += len(chunk)
            run.emit(
                _event(
                    run,
                    "response.mcp_call_arguments.delta",
                    response_id=run.response_id,
                    item_id=self.item.id,
                    output_index=self.index,
                    delta=chunk,
                    obfuscation=run.ids.obfuscation(),
                )
            )
            if run.in_band:
                run.store.update_mcp_item(self.partial())
            await asyncio.sleep(run.pause_s)
        if self.seconds > 0:
            # The server calls the MCP server now: the call is in progress, in the
            # conversation, for as long as the tool takes (a cancel cuts it short).
            self._announce_run(run)
            await asyncio.sleep(self.seconds)

    def _announce_run(self, run: Streaming) -> None:
        self.running = True
        where = {"item_id": self.item.id, "output_index": self.index}
        arguments = str(self.item.get("arguments") or "")
        run.emit(
            _event(
                run,
                "response.mcp_call_arguments.done",
                response_id=run.response_id,
                **where,
                arguments=arguments,
            )
        )
        run.emit(_event(run, "response.mcp_call.in_progress", **where))

    def finish(self, run: Streaming, status: Literal["completed", "incomplete"]) -> None:
        self.done = True
        final = self.item if status == "completed" else self.partial()
        if self.is_call and status == "completed":
            where = {"item_id": self.item.id, "output_index": self.index}
            if not self.running:
                self._announce_run(run)
            outcome = "failed" if final.get("error") else "completed"
            run.emit(_event(run, f"response.mcp_call.{outcome}", **where))
        if run.in_band:
            run.store.update_mcp_item(final)
        if run.in_band and (status == "completed" or run.done_for_cancelled):
            run.emit(
                ConversationItemDone(
                    event_id=run.ids.next(),
                    previous_item_id=None if self.after_first else self.added_previous,
                    item=final.wire(),
                )
            )
        self.reported = final.wire()
        run.emit(
            ResponseOutputItemDone(
                event_id=run.ids.next(),
                response_id=run.response_id,
                output_index=self.index,
                item=self.reported,
            )
        )


def _event(run: Streaming, kind: str, **fields: Any) -> Prebuilt:
    """A server event accord's protocol package has no class for, encoded directly."""
    return prebuilt(run.ids, kind, **fields)
