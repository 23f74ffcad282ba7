"""Duplicate replies: what a retried or repeated ``response.create`` must never cause.

A completed in-band reply that saw no user turn or tool output that an earlier reply had
not already seen answers nothing new. The simulator counts those for the judges of
``accord stress`` (the real server would answer the same conversation twice, silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.items import FunctionCallOutput, Item, Message
from accord.sim.responder import ResponseRun


@dataclass
class ReplyCount:
    """In-band response -> the inputs it saw; the inputs some completed reply has seen."""

    duplicates: int = 0
    _inputs_of: dict[str, frozenset[str]] = field(default_factory=dict)
    _answered: set[str] = field(default_factory=set)

    def already_answered(self, inputs: frozenset[str]) -> None:
        """Inputs answered before this server session began (a resumed conversation
        arrives with its replies): a reply that sees nothing else is a duplicate."""
        self._answered |= inputs

    def asked(self, response_id: str, conversation: Sequence[Item]) -> None:
        self._inputs_of[response_id] = _inputs(conversation)

    def finished(self, runner: ResponseRun) -> None:
        inputs = self._inputs_of.pop(runner.spec.response_id, frozenset())
        spoke = any(isinstance(out.item, Message) for out in runner.outputs)
        if not (runner.in_band and runner.status == "completed" and spoke and inputs):
            return
        if inputs <= self._answered:
            self.duplicates += 1
        self._answered |= inputs


def _inputs(conversation: Sequence[Item]) -> frozenset[str]:
    """What a response can answer: the user's turns and the tools' outputs it sees."""
    return frozenset(
        item.id
        for item in conversation
        if isinstance(item, FunctionCallOutput)
        or (isinstance(item, Message) and item.role == "user")
    )
