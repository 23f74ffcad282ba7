"""A schedule as people read it, and as a file that replays it.

When the explorer finds a violation it shrinks the schedule and prints it as a timeline:
one line per step, who acted, what the client sent during the step, the errors the
server answered and what the server held afterwards. The same schedule is written as a
small JSON file; ``accord explore --replay FILE`` plays it again, step for step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.engine import events as ev
from accord.items import FunctionCallOutput, Item

SCHEDULE_FORMAT = "accord-explore-schedule/1"


@dataclass(frozen=True, slots=True)
class TimelineStep:
    n: int
    actor: str  # an actor's name, "client" (a delivery down), "server" (up) or "quiet"
    action: str
    sent: tuple[str, ...]
    errors: tuple[str, ...]
    server_ids: tuple[str, ...]


def _name(item: Item) -> str:
    return f"out:{item.call_id}" if isinstance(item, FunctionCallOutput) else item.id


def describe_op(op: ev.ClientOp) -> str:
    """A client event in words."""
    if isinstance(op, ev.CreateItem):
        prev = op.previous_item_id  # None: appended at the end; "root": at the start
        where = "at the end" if prev is None else f"after {prev}"
        return f"create {_name(op.item)} {where}"
    if isinstance(op, ev.DeleteItem):
        return f"delete {op.item_id}"
    if isinstance(op, ev.RetrieveItem):
        return f"retrieve {op.item_id}"
    if isinstance(op, ev.TruncateItem):
        return f"truncate {op.item_id} at {op.audio_end_ms} ms"
    if isinstance(op, ev.CreateResponse):
        return "response.create (out of band)" if op.out_of_band else "response.create"
    if isinstance(op, ev.CancelResponse):
        return "response.cancel"
    return f"session.update (VAD {'on' if op.server_vad else 'off'})"


def describe_event(event: ev.ServerInput) -> str:
    """A server event, as the client receives it, in words."""
    if isinstance(event, ev.ItemAdded):
        prev = event.previous_item_id or "root"
        return f"receives item.added {_name(event.item)} (after {prev})"
    if isinstance(event, ev.ItemUpdated):
        return f"receives {_name(event.item)} {'done' if event.done else 'delta'}"
    if isinstance(event, ev.ItemDeleted):
        return f"receives item.deleted {event.item_id}"
    if isinstance(event, ev.ItemTruncated):
        return f"receives item.truncated {event.item_id} at {event.audio_end_ms} ms"
    if isinstance(event, ev.TranscriptDone):
        return f"receives the transcript of {event.item_id}"
    if isinstance(event, ev.ResponseCreated):
        oob = " (out of band)" if event.out_of_band else ""
        return f"receives response.created {event.response_id}{oob}"
    if isinstance(event, ev.OutputItemAdded):
        return f"receives output_item.added {event.item_id} ({event.response_id})"
    if isinstance(event, ev.ResponseDone):
        return f"receives response.done {event.response_id} ({event.status})"
    if isinstance(event, ev.ServerError):
        return f"receives error {event.code}"
    if isinstance(event, ev.SessionUpdated):
        return "receives session.updated"
    return f"receives {type(event).__name__}"


def format_timeline(steps: list[TimelineStep]) -> list[str]:
    lines: list[str] = []
    for s in steps:
        lines.append(f"{s.n:>3}. {s.actor:<10} {s.action}")
        for sent in s.sent:
            lines.append(f"{'':15}-> {sent}")
        for error in s.errors:
            lines.append(f"{'':15}!! {error}")
        lines.append(f"{'':15}   server: [{' '.join(s.server_ids)}]")
    return lines


@dataclass(frozen=True)
class ScheduleFile:
    scenario: str
    strategy: str
    seed: int
    choices: list[str]
    findings: list[str]

    def save(self, path: Path) -> None:
        data: dict[str, Any] = {
            "format": SCHEDULE_FORMAT,
            "scenario": self.scenario,
            "strategy": self.strategy,
            "seed": self.seed,
            "choices": self.choices,
            "findings": self.findings,
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ScheduleFile:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != SCHEDULE_FORMAT:
            raise ValueError(f"{path}: not an accord explore schedule ({SCHEDULE_FORMAT})")
        choices = data.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"{path}: 'choices' must be a list of strings")
        return cls(
            str(data["scenario"]),
            str(data["strategy"]),
            int(data.get("seed", 0)),
            list(choices),
            [str(f) for f in data.get("findings", [])],
        )
