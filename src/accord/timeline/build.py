"""Building a :class:`~accord.timeline.model.Timeline` from a recorded trace.

The frames give the wire lanes (:mod:`accord.timeline.wire`); the local calls give the
application lane (pushes, tool runs as spans from their start to their finish, audio
sent). What a push did (sent, deferred, aliased, failed) and which invariant broke are
not in the trace: they are the engine's and the checker's, so the trace is replayed
through a fresh engine (:func:`accord.verify.replay.replay`) with a watch on its
effects. A trace that cannot be replayed (not accord's, or cut short) still gets its
page: wire lanes, calls and the recorded verdict, without push reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accord.client.core import SessionCore
from accord.client.recording import read_trace
from accord.engine import events as ev
from accord.timeline.model import Row, Timeline
from accord.timeline.wire import WireJoin
from accord.verify.checker import Violation
from accord.verify.replay import TraceError, replay

#: Calls a trace records that a page does not show one by one (ticks carry only time).
QUIET_CALLS = frozenset({"tick", "connect"})
_BRACKETED = re.compile(r"\[([A-Za-z0-9_.:-]+)\]")


@dataclass
class _Watch:
    """What the replayed engine decided, by the trace record it was fed."""

    record: int = 0
    reports: dict[int, ev.PushReport] = field(default_factory=dict)  # push record -> report
    pushes: dict[str, int] = field(default_factory=dict)  # push id -> push record

    def attach(self, core: SessionCore) -> Callable[[int], None]:
        core.observers.append(self._observe)
        previous = core._on_effect

        def on_effect(effect: ev.Effect) -> None:
            if isinstance(effect, ev.PushDone):
                at = self.pushes.get(effect.report.push_id)
                if at is not None:
                    self.reports[at] = effect.report
            previous(effect)

        core._on_effect = on_effect
        return self._at

    def _at(self, index: int) -> None:
        self.record = index

    def _observe(self, what: str, details: dict[str, Any]) -> None:
        if what == "push":
            self.pushes[str(details["push_id"])] = self.record


def build(path: str | Path, *, title: str | None = None) -> Timeline:
    """The timeline of the trace at ``path`` (replayed when it can be)."""
    records = list(read_trace(path))
    header = records[0] if records else {}
    watch = _Watch()
    violations: list[Violation] = []
    replayed = False
    try:
        result = replay(path, watch=watch.attach)
        violations, replayed = result.violations, True
    except (TraceError, ValueError, KeyError, TypeError):
        pass  # not replayable: the page shows what the trace itself holds
    timeline = Timeline(
        title=title or Path(path).name,
        strategy=str(header.get("strategy", "?")),
        replayed=replayed,
    )
    _fill(timeline, records, watch.reports)
    verdict = next((r for r in records if r.get("kind") == "verdict"), None)
    if verdict is not None:
        timeline.findings = [str(f) for f in verdict.get("findings", [])]
    judged = {(v.invariant, v.item_id) for v in violations}
    recorded = [
        v for v in _from_findings(timeline.findings) if (v.invariant, v.item_id) not in judged
    ]
    _place_violations(timeline, [*violations, *recorded], _lost_calls(timeline.rows))
    return timeline


def _fill(timeline: Timeline, records: list[dict[str, Any]], reports: dict[int, Any]) -> None:
    wire = WireJoin()
    start: float | None = None
    now = 0.0
    tools: dict[str, int] = {}  # call id -> open tool span row
    calls = wire.calls  # call id -> function call item id (from the wire)
    audio_row: int | None = None
    for index, record in enumerate(records):
        kind = record.get("kind")
        if "t" in record:
            start = record["t"] if start is None else start
            now = float(record["t"]) - start
        if kind == "out":
            wire.client_frame(record["frame"], now)
        elif kind == "in":
            wire.server_frame(record["frame"], now)
        elif kind == "in_binary":
            wire.add(Row(0, now, "server", "event", "binary frame", "binary"))
        elif kind == "call":
            name, args = str(record["name"]), record.get("args", {})
            if name in QUIET_CALLS:
                continue
            if name == "push_audio" and audio_row is not None:
                row = wire.rows[audio_row]
                bytes_ = row.count + int(args.get("audio_bytes", 0))
                wire.rows[audio_row] = replace(row, end=now, count=bytes_)
                continue
            audio_row = None
            row_index = wire.add(_call_row(name, args, now, reports.get(index), calls))
            if name == "push_audio":
                audio_row = row_index
                wire.rows[row_index] = replace(
                    wire.rows[row_index], count=int(args.get("audio_bytes", 0)), end=now
                )
            elif name == "tool_started":
                tools[str(args["call_id"])] = row_index
            elif name in ("tool_finished", "tool_abandoned"):
                _close_tool(wire, tools.pop(str(args["call_id"]), None), now, name, args)
        if kind != "call":
            audio_row = None
    wire.close_runs()
    timeline.rows = sorted(wire.rows, key=lambda r: (r.t, r.index))
    _renumber(timeline)
    timeline.duration = max((r.end or r.t for r in timeline.rows), default=0.0)


def _renumber(timeline: Timeline) -> None:
    """Rows in time order get their final indexes; links follow them."""
    new = {row.index: i for i, row in enumerate(timeline.rows)}
    timeline.rows = [
        replace(row, index=i, link=None if row.link is None else new[row.link])
        for i, row in enumerate(timeline.rows)
    ]


def _call_row(
    name: str, args: dict[str, Any], t: float, report: ev.PushReport | None, calls: dict[str, str]
) -> Row:
    if name == "push":
        desired = [str(i.get("id")) for i in args.get("desired", [])]
        base = args.get("base_version")
        label = f"push ({len(desired)} items, base {'none' if base is None else base})"
        if report is None:
            return Row(0, t, "app", "push", label, items=tuple(desired))
        touched = [*report.sent, *report.deferred, *(a for pair in report.aliased for a in pair)]
        detail = (
            f"sent {len(report.sent)}, deferred {len(report.deferred)}, "
            f"aliased {len(report.aliased)}, failed {len(report.failed)}"
        )
        failed = "; ".join(f"{op}: {why}" for op, why in report.failed)
        return Row(
            0,
            t,
            "app",
            "push",
            label,
            items=tuple(dict.fromkeys([*touched, *desired])),
            status="failed" if report.failed else "acked",
            detail=detail + (f"; failed {failed}" if failed else ""),
        )
    if name == "tool_started":
        call_id = str(args["call_id"])
        items = (call_id, calls[call_id]) if call_id in calls else (call_id,)
        return Row(0, t, "app", "tool", f"tool {call_id}", items=items, end=None)
    if name == "push_audio":
        return Row(0, t, "app", "audio", "audio sent", end=t)
    named = tuple(str(v) for k, v in args.items() if k in ("call_id", "item_id") and v)
    return Row(0, t, "app", "call", name, items=named, detail=_short(args))


def _close_tool(
    wire: WireJoin, row_index: int | None, t: float, name: str, args: dict[str, Any]
) -> None:
    if row_index is None:
        return
    row = wire.rows[row_index]
    outcome = "finished" if name == "tool_finished" else "abandoned"
    output = str(args.get("output", ""))[:200]
    wire.rows[row_index] = replace(
        row,
        end=t,
        status="acked" if outcome == "finished" else "failed",
        detail=f"{outcome} after {1000 * (t - row.t):.0f} ms" + (f": {output}" if output else ""),
    )


def _short(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items() if v not in (None, "", (), []))[:200]


def _from_findings(findings: list[str]) -> list[Violation]:
    """Violations rebuilt from a recorded verdict (when the trace cannot be replayed)."""
    from accord.verify.checker import Invariant

    found: list[Violation] = []
    for text in findings:
        match = re.match(r"invariant (\d+)", text)
        if match is None:
            continue
        item = _BRACKETED.search(text)
        detail = text.split(": ", 1)[-1]
        found.append(
            Violation(Invariant(int(match.group(1))), item.group(1) if item else None, detail)
        )
    return found


def _lost_calls(rows: list[Row]) -> list[Row]:
    """A tool call whose output the server refused because it no longer holds the call:
    the lost call, shown where the refusal came back (with the call's item and the
    refused output highlighted). Read off the rows, so a trace from the field shows it
    too."""
    tools = {row.items[0]: row for row in rows if row.kind == "tool" and row.items}
    lost: list[Row] = []
    for op in rows:
        if op.kind != "op" or op.status != "failed" or op.link is None:
            continue
        answer = rows[op.link]
        for call_id in answer.items:
            tool = tools.get(call_id)
            if tool is None:
                continue
            ran = f"{tool.t:.3f}-{tool.end if tool.end is not None else tool.t:.3f} s"
            asked = next(
                (r.label for r in rows if r.kind == "response" and tool.items[-1] in r.items),
                "an unknown response",
            )
            lost.append(
                Row(
                    0,
                    answer.t,
                    "app",
                    "lost",
                    f"lost call {call_id}",
                    items=tuple(dict.fromkeys([*tool.items, *op.items])),
                    status="failed",
                    link=op.link,
                    detail=f"asked for by {asked}; its tool ran {ran}; the output {op.ref} "
                    f"was refused: {op.detail}",
                )
            )
    return lost


def _place_violations(timeline: Timeline, violations: list[Violation], lost: list[Row]) -> None:
    """Each violation goes where it shows: the delete of its item, else the first
    refusal naming it, else the first row about it, else the end."""
    placed: list[Row] = list(lost)
    involved: list[str] = [item for row in lost for item in row.items]
    # A tool row names its call id, then the call's item: a violation about that item
    # names the call id too, so that a filter by the call id shows where it broke.
    tools = [row for row in timeline.rows if row.kind == "tool"]
    call_of = {item: row.items[0] for row in tools for item in row.items[1:]}
    for violation in violations:
        item = violation.item_id
        at = _where(timeline.rows, item)
        t = timeline.rows[at].t if at is not None else timeline.duration
        items: tuple[str, ...] = (item,) if item else ()
        if item in call_of:
            items = (item, call_of[item])
        involved.extend(items)
        placed.append(
            Row(
                0,
                t,
                "app",
                "violation",
                f"invariant {violation.invariant.value} {violation.invariant.name}",
                items=items,
                status="failed",
                link=at,
                detail=violation.detail,
            )
        )
    timeline.rows = sorted(
        [*timeline.rows, *placed], key=lambda r: (r.t, r.kind not in ("violation", "lost"))
    )
    order = {id(row): i for i, row in enumerate(timeline.rows)}
    old = {row.index: id(row) for row in timeline.rows if row.kind not in ("violation", "lost")}
    timeline.rows = [
        replace(
            row,
            index=order[id(row)],
            link=None if row.link is None else order[old[row.link]],
        )
        for row in timeline.rows
    ]
    timeline.involved = tuple(dict.fromkeys(involved))


def _where(rows: list[Row], item: str | None) -> int | None:
    if item is None:
        return None
    about = [row for row in rows if item in row.items]
    for wanted in (
        lambda r: r.kind == "op" and r.items[:1] == (item,) and r.action == "delete",
        lambda r: r.status == "failed",
        lambda r: True,
    ):
        hit = next((row for row in about if wanted(row)), None)
        if hit is not None:
            return hit.index
    return None
