"""A timeline of one explored schedule (``accord explore --html``).

The explorer runs the engine against the simulator's store with no socket and no clock,
so a schedule has steps, not frames: each step is one actor acting, one delivery down
(the client receiving a server event) or up (the server taking a client operation).
Time on the page is the step number. Operations have no wire ``event_id`` there, so each
gets the id ``step<N>.<k>``; an error the server answered in a step is a refused
operation's answer. The findings are the page's violations, placed at the first step
that names their item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from accord.timeline.model import Row, Timeline

#: Explorer actors that are not writers: deliveries down and up, and the final drain.
CLIENT, SERVER, QUIET = "client", "server", "quiet"


class Step(Protocol):
    """What the explorer records per step (``accord.explore.timeline.TimelineStep``)."""

    @property
    def n(self) -> int: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def sent(self) -> tuple[str, ...]: ...
    @property
    def errors(self) -> tuple[str, ...]: ...
    @property
    def server_ids(self) -> tuple[str, ...]: ...


class Finding(Protocol):
    """A finding of the explorer: its kind, the item it is about, and what it says."""

    @property
    def kind(self) -> str: ...
    @property
    def item_id(self) -> str | None: ...
    @property
    def detail(self) -> str: ...


def from_schedule(
    title: str, strategy: str, steps: Sequence[Step], findings: Sequence[Finding]
) -> Timeline:
    """The timeline of a played schedule and what was found in it."""
    rows: list[Row] = []

    def add(row: Row) -> Row:
        row = replace(row, index=len(rows))
        rows.append(row)
        return row

    for step in steps:
        t = float(step.n)
        words = step.action.split()
        named = tuple(w.strip("(),") for w in words if "_" in w or w[:1].isdigit())
        server = f"server holds [{' '.join(step.server_ids)}]"
        if step.actor == CLIENT:
            add(Row(0, t, "server", "event", step.action, "delivered", named, detail=server))
        elif step.actor == SERVER:
            add(Row(0, t, "server", "call", f"server takes {step.action}", items=named))
        else:
            add(Row(0, t, "app", "call", f"{step.actor}: {step.action}", items=named))
        ops = [
            add(Row(0, t, "wire", "op", sent, sent.split()[0], _ids(sent), f"step{step.n}.{k}"))
            for k, sent in enumerate(step.sent)
        ]
        for error in step.errors:
            event = add(Row(0, t, "server", "event", f"error {error}", "error", status="failed"))
            if ops:  # the step's last operation is the one refused (one per step, in practice)
                op = ops.pop()
                rows[op.index] = replace(op, status="failed", link=event.index, detail=error)
                rows[event.index] = replace(event, ref=op.ref)
    timeline = Timeline(title=title, strategy=strategy, rows=rows, replayed=True, unit="step")
    timeline.duration = float(steps[-1].n) if steps else 0.0
    violations: list[Row] = []
    for finding in findings:
        item = finding.item_id
        at = next((r for r in rows if item is not None and item in r.items), None)
        violations.append(
            Row(
                0,
                at.t if at is not None else timeline.duration,
                "app",
                "violation",
                finding.kind,
                items=(item,) if item else (),
                status="failed",
                link=None if at is None else at.index,
                detail=finding.detail,
            )
        )
    ordered = sorted([*rows, *violations], key=lambda r: (r.t, r.kind != "violation"))
    index = {id(r): i for i, r in enumerate(ordered)}
    by_old = {r.index: id(r) for r in rows}
    timeline.rows = [
        replace(r, index=index[id(r)], link=None if r.link is None else index[by_old[r.link]])
        for r in ordered
    ]
    timeline.involved = tuple(f.item_id for f in findings if f.item_id)
    return timeline


def _ids(text: str) -> tuple[str, ...]:
    return tuple(w for w in text.split()[1:] if w not in ("after", "at", "the", "end", "ms"))
