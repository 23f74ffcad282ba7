"""One follow-up response per in-band response whose calls the tools answered.

docs/architecture.md, "Responses", and races R14 and R16: after a response with function
calls is done and every call's output (created by the engine from ``tool_finished``)
is on the server, the engine asks for exactly one follow-up; none if an in-band
response started after the outputs landed (that response already sees them). Outputs
created for other reasons (a push rewriting an output, a restore) never ask again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from accord.engine.responses import ResponseInfo


@dataclass
class FollowUps:
    outputs: dict[str, str] = field(default_factory=dict)  # call id -> output item id
    output_ops: set[str] = field(default_factory=set)  # event ids of tool output creates
    landed_at: dict[str, int] = field(default_factory=dict)  # response -> in-band counter
    answered: set[str] = field(default_factory=set)  # responses asked for (or dropped)

    def output_planned(self, call_id: str, output_id: str, event_id: str) -> None:
        self.outputs[call_id] = output_id
        self.output_ops.add(event_id)

    def has_output(self, call_id: str) -> bool:
        return call_id in self.outputs

    def is_output(self, output_id: str) -> bool:
        """``output_id`` is a tool's output (not one a push or a restore created)."""
        return output_id in self.outputs.values()

    def output_landed(self, event_id: str, response_id: str | None, counter: int) -> bool:
        """A tool output's create was acknowledged; True if it may trigger a follow-up."""
        if event_id not in self.output_ops:
            return False
        self.output_ops.discard(event_id)
        if response_id is None or response_id in self.answered:
            return False
        self.landed_at[response_id] = counter
        return True

    def due(
        self,
        info: ResponseInfo | None,
        on_server: Callable[[str], bool],
        counter: int,
        *,
        once: bool = True,
    ) -> int | None:
        """The in-band counter to tag a follow-up with, when one is due now."""
        if info is None or not info.done or info.status != "completed" or not info.calls:
            return None
        rid = info.response_id
        if rid in self.answered or rid not in self.landed_at:
            return None
        for call_id in info.calls:
            out_id = self.outputs.get(call_id)
            if out_id is None or not on_server(out_id):
                return None
        landed = self.landed_at.pop(rid)
        self.answered.add(rid)
        if once and counter > landed:
            return None  # R14: a later in-band response already sees the outputs
        return landed

    def forget_call(self, call_id: str) -> None:
        self.outputs.pop(call_id, None)
