"""How each benchmark's results are shown: one JSON object, or Rich tables and notes.

A :class:`Report` holds both forms, so ``accord bench X`` and ``accord bench --quick``
(every benchmark) print the same things, and the test suite reads the JSON form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accord.bench import machine
from accord.bench.diff_bench import DiffRow
from accord.bench.engine_bench import EngineRate
from accord.bench.push_bench import PushTiming
from accord.bench.sessions_bench import SessionsResult
from accord.bench.targets import Verdict
from accord.bench.update_bench import UpdateTiming

STATUS_STYLE = {"met": "green", "not met": "red", "not measured": "yellow"}


@dataclass
class Report:
    """One benchmark's results as JSON data and as tables, notes and target verdicts."""

    benchmark: str
    results: list[dict[str, Any]]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"benchmark": self.benchmark, "results": self.results}
        data.update(self.extra)
        if self.notes:
            data["notes"] = self.notes
        if self.verdicts:
            data["targets"] = [asdict(v) for v in self.verdicts]
        return data

    def print(self, console: Console) -> None:
        info = self.extra.get("machine")
        if info:
            console.print(f"[dim]{escape(machine.summary(info))}[/dim]", highlight=False)
        for table in self.tables:
            console.print(table)
        for note in self.notes:
            console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
        if self.verdicts:
            table = Table(title=f"{self.benchmark}: targets")
            for column in ("target", "measured", "status"):
                table.add_column(column)
            for v in self.verdicts:
                style = STATUS_STYLE[v.status]
                table.add_row(
                    escape(v.target), escape(v.measured), f"[{style}]{v.status}[/{style}]"
                )
            console.print(table)


def _ms(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def diff_report(rows: Sequence[DiffRow], *, repeat: int, livekit_version: str | None) -> Report:
    results = []
    for r in rows:
        row: dict[str, Any] = {
            "n": r.n,
            "moves": r.moves,
            "best_ms": r.accord.best_ms,
            "removed": r.accord.removed,
            "created": r.accord.created,
            "updated": r.accord.updated,
            "path": r.accord.path,
            "runs": r.accord.runs,
            "livekit_ms": None if r.livekit is None else r.livekit.best_ms,
            "livekit_path": None if r.livekit is None else r.livekit.path,
            "ratio": r.ratio,
            "agreement": r.agreement,
        }
        results.append(row)
    moves = rows[0].moves if rows else 0
    title = "compute_diff, best of the runs" + (f", {moves} moves" if moves else "")
    if livekit_version:
        title += f"; LiveKit Agents {livekit_version} compute_chat_ctx_diff beside it"
    table = Table(title=title)
    columns = ["n", "runs", "accord ms", "path"]
    if livekit_version:
        columns += ["LiveKit ms", "path", "ratio", "diffs"]
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        cells = [f"{r.n:,}", str(r.accord.runs), f"{r.accord.best_ms:.3f}", r.accord.path]
        if livekit_version and r.livekit is not None:
            cells += [
                f"{r.livekit.best_ms:.3f}",
                r.livekit.path,
                f"{r.ratio:.2f}x" if r.ratio is not None else "-",
                r.agreement or "-",
            ]
        table.add_row(*cells)
    return Report(
        "diff",
        results,
        [table],
        extra={"repeat": repeat, "livekit_version": livekit_version},
    )


def engine_report(rates: Sequence[EngineRate]) -> Report:
    table = Table(title="server events per second through codec + engine (one core)")
    columns = ("workload", "events", "events/s", "floor/s", "x floor", "x json floor")
    for column in (*columns, "x filing"):
        table.add_column(column, justify="right")
    for r in rates:
        floor_rate = r.events / r.floor_seconds if r.floor_seconds else 0.0
        ratio, speedup = r.floor_ratio, r.speedup_since_filing
        json_ratio = r.seconds / r.json_floor_seconds if r.json_floor_seconds else None
        table.add_row(
            r.workload,
            f"{r.events:,}",
            f"{r.per_second:,.0f}",
            f"{floor_rate:,.0f}",
            f"{ratio:.2f}" if ratio is not None else "-",
            f"{json_ratio:.2f}" if json_ratio is not None else "-",
            f"{speedup:.2f}" if speedup is not None else "-",
        )
    results = [
        {
            "workload": r.workload,
            "events": r.events,
            "seconds": r.seconds,
            "per_second": r.per_second,
            "floor_seconds": r.floor_seconds,
            "floor_ratio": r.floor_ratio,
            "json_floor_seconds": r.json_floor_seconds,
            "speedup_since_filing": r.speedup_since_filing,
        }
        for r in rates
    ]
    return Report("engine", results, [table])


def push_report(timings: Sequence[PushTiming]) -> Report:
    table = Table(title="one appended message: SyncEngine.push against the diff of the same edit")
    for column in ("n", "runs", "push ms", "diff ms", "x diff"):
        table.add_column(column, justify="right")
    for t in timings:
        table.add_row(
            f"{t.n:,}", str(t.runs), f"{t.push_ms:.3f}", f"{t.diff_ms:.3f}", f"{t.ratio:.2f}"
        )
    results = [
        {"n": t.n, "runs": t.runs, "push_ms": t.push_ms, "diff_ms": t.diff_ms, "ratio": t.ratio}
        for t in timings
    ]
    return Report("push", results, [table])


def update_report(timings: Sequence[UpdateTiming], *, latency_ms: float) -> Report:
    rtt = timings[0].rtt_ms if timings else 0.0
    table = Table(
        title=f"update_chat_ctx vs one round trip ({rtt:.1f} ms at {latency_ms:g} ms each way)"
    )
    for column in ("operations", "kind", "response", "median ms", "x RTT", "deferred", "active"):
        table.add_column(column, justify="right")
    for t in timings:
        active = f"{t.active_runs}/{t.runs}" if t.mode == "responding" else "-"
        mode = "streaming" if t.mode == "responding" else "none"
        table.add_row(
            str(t.n), t.kind, mode, f"{t.median_ms:.1f}", f"{t.ratio:.2f}", str(t.deferred), active
        )
    results = [
        {
            "n": t.n,
            "kind": t.kind,
            "mode": t.mode,
            "median_ms": t.median_ms,
            "rtt_ms": t.rtt_ms,
            "ratio": t.ratio,
            "deferred": t.deferred,
            "active_runs": t.active_runs,
            "runs": t.runs,
        }
        for t in timings
    ]
    return Report("update", results, [table], extra={"latency_ms": latency_ms})


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def sessions_report(results: Sequence[SessionsResult], *, period_s: float) -> Report:
    idle = _table(
        "sessions, idle (100-item conversation each, no traffic)",
        ("N", "setup s", "KiB/session", "x empty", "sim KiB/session", "events/s", "CPU"),
    )
    active = _table(
        f"sessions, active (a text turn every {period_s:g} s, a tool call every third)",
        (
            "N",
            "events/s",
            "turns done",
            "tool calls",
            "p50 ms",
            "p99 ms",
            "max ms",
            "desyncs",
            "errors",
        ),
    )
    cpu = _table(
        "sessions, active: CPU in cores (1.00 = one core busy)",
        (
            "N",
            "client",
            "ms/turn",
            "GC CPU s",
            "GC share",
            "longest GC ms",
            "simulator",
            "ms/turn",
            "others",
        ),
    )
    notes = [
        "KiB/session: tracemalloc in this process; sim KiB/session: the simulator's RSS "
        "growth, for scale; ms/turn: CPU per completed turn; GC: CPU seconds of the active "
        "window spent in the garbage collector, and its longest pause; others: cores the "
        "rest of the machine used"
    ]
    if any(r.gc_frozen for r in results):
        notes.append(
            "the collector was tuned once the sessions were set up (--gc-freeze): "
            "gc.freeze(), gc.set_threshold(50000, 20, 100)"
        )
    for r in results:
        if r.skipped:
            notes.append(f"{r.sessions:,} sessions could not run: {r.skipped}")
            continue
        count = (
            f"{r.sessions:,}" if r.connected == r.sessions else f"{r.connected:,}/{r.sessions:,}"
        )
        sim_kib = None if r.sim_rss_per_session is None else r.sim_rss_per_session / 1024
        idle.add_row(
            count,
            f"{r.setup_s:.1f}",
            _ms(r.kib_per_idle_session),
            _ms(r.idle_over_empty, 2),
            _ms(sim_kib),
            f"{r.idle_events_per_s:,.0f}",
            f"{r.idle_client_cpu:.2f}",
        )
        active.add_row(
            count,
            f"{r.events_per_s:,.0f}",
            f"{r.turns_completed:,}/{r.turns_scheduled:,}",
            f"{r.tool_calls:,}",
            _ms(r.p50_ms),
            _ms(r.p99_ms),
            _ms(r.max_ms),
            "-" if r.desyncs is None else f"{r.desyncs}/{r.judged:,}",
            ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0",
        )
        cpu.add_row(
            count,
            _cores(r.client_cpu),
            _ms(r.client_ms_per_turn, 2),
            f"{r.gc_s:.1f}",
            "-" if r.gc_share is None else f"{r.gc_share:.1%}",
            f"{r.gc_longest_ms:.0f}",
            _cores(r.sim_cpu),
            _ms(r.sim_ms_per_turn, 2),
            _cores(r.other_cpu),
        )
    data = [
        {
            **asdict(r),
            "kib_per_idle_session": r.kib_per_idle_session,
            "client_ms_per_turn": r.client_ms_per_turn,
            "sim_ms_per_turn": r.sim_ms_per_turn,
            "idle_over_empty": r.idle_over_empty,
            "gc_share": r.gc_share,
        }
        for r in results
    ]
    return Report("sessions", data, [idle, active, cpu], notes, extra={"period_s": period_s})
