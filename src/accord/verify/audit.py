"""Judging a live session against the simulator's store: the demo's desync count.

The audit listens to the session core (every push with its base and desired context,
every operation sent with the decision it came from, every resolution and tool report)
and builds the checker's log; at quiet it runs every invariant over the simulator's
store, compares the client's mirror with it, and counts unexpected server errors. A
desync is any of those (the agent issue's definition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accord.client.core import SessionCore
from accord.engine import events as ev
from accord.sim.store import ConversationStore
from accord.verify.checker import Violation, check_quiet
from accord.verify.log import CheckLog, PushRecord, Resolution, ToolReport, op_record


@dataclass
class Audit:
    store_of: Any  # () -> the simulator store of the current connection
    log: CheckLog = field(default_factory=CheckLog)
    ops_sent: int = 0
    resolved: int = 0

    def attach(self, core: SessionCore) -> None:
        core.observers.append(self._observe)
        previous = core._on_effect

        def on_effect(effect: ev.Effect) -> None:
            self._effect(effect)
            previous(effect)

        core._on_effect = on_effect

    @property
    def store(self) -> ConversationStore:
        store: ConversationStore = self.store_of()
        return store

    def _observe(self, what: str, details: dict[str, Any]) -> None:
        transitions = self.store.transitions
        if what == "push":
            ctx = details["ctx"]
            self.log.push(
                PushRecord(
                    details["push_id"],
                    None if ctx.base is None else ctx.base.items,
                    tuple(ctx.items),
                    transitions,
                    current=tuple(details["current"].items),
                    explicit_replace=details["explicit_replace"],
                )
            )
        elif what == "tool":
            self.log.tool(ToolReport(details["call_id"], details["event"], transitions))

    def _effect(self, effect: ev.Effect) -> None:
        if isinstance(effect, ev.Send):
            if effect.op.event_id not in self.log.ops:  # a busy-refused request sent again
                self.log.op(op_record(effect, self.store.transitions, 0.0))
                self.ops_sent += 1
        elif isinstance(effect, ev.OpResolved) and effect.event_id in self.log.ops:
            status = "success" if effect.status == "moot" else effect.status
            self.log.resolve(Resolution(effect.event_id, status, 0.0, effect.code))
            self.resolved += 1

    def violations(self, mirror: list[Any]) -> list[Violation]:
        return check_quiet(self.store, self.log, mirror)
