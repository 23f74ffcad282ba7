"""The stress run's report: the workers' results added up, as a table and as JSON.

Rates (turns/s, server events/s) are over the timed phase; latencies are percentiles of
every ``update_chat_ctx`` call of every session (user turns and policy pushes alike).
``passed`` is the exit status's reason: no desync, no lost item, and every session ran
and was judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from accord.stress.config import StressConfig
from accord.stress.killer import KillCounts
from accord.stress.outcome import SessionOutcome
from accord.stress.worker import WorkerResult

MAX_FINDINGS = 20  # session lines shown under the table


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class StressReport:
    sessions: int
    workers: int
    strategy: str
    audio: bool
    seconds: float
    turns: int = 0
    phase_turns: int = 0
    turns_per_second: float = 0.0
    server_events: int = 0
    events_per_second: float = 0.0
    ops_sent: int = 0
    ops_resolved: int = 0
    updates: int = 0
    update_p50_ms: float = 0.0
    update_p99_ms: float = 0.0
    turn_p50_ms: float = 0.0
    turn_p99_ms: float = 0.0
    pushes: int = 0
    pushes_during_calls: int = 0
    deferred: int = 0
    aliased: int = 0
    tool_calls: int = 0
    sessions_dropped: int = 0
    reconnects: int = 0
    restores_judged: int = 0
    desyncs: int = 0
    desynced_sessions: int = 0
    violations: int = 0
    lost_items: int = 0
    server_errors: int = 0
    injected_errors: int = 0
    evicted_items: int = 0
    duplicate_replies: int = 0
    calls_without_one_output: int = 0  # in each session's last server conversation
    # --kill-every: workers SIGKILLed, handovers (a session resumed by another worker;
    # one killed while resuming is handed on again), and sessions resumed at least once.
    journal: str | None = None
    kill_every: float | None = None
    workers_killed: int = 0
    resumes: int = 0
    sessions_resumed: int = 0
    errors: int = 0  # sessions that could not run or be judged
    stalls: int = 0
    turn_errors: int = 0
    connect_seconds: float = 0.0
    drain_seconds: float = 0.0
    judge_seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU of the worker processes over the timed phase and drain
    gc_seconds: float = 0.0  # of which in the garbage collector
    cpu_ms_per_turn: float = 0.0  # that CPU over every turn: a rate other load hardly moves
    warnings: int = 0  # accord's log warnings during the run (policies cut by a drop...)
    findings: list[str] = field(default_factory=list)
    warning_samples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.desyncs == 0
            and self.lost_items == 0
            and self.duplicate_replies == 0
            and self.calls_without_one_output == 0
            and self.errors == 0
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


def build_report(
    config: StressConfig, results: Sequence[WorkerResult], kills: KillCounts | None = None
) -> StressReport:
    report = StressReport(
        sessions=config.sessions,
        workers=config.workers if kills is not None else len(results),
        strategy=config.strategy,
        audio=config.audio,
        seconds=config.seconds,
        journal=_journal_kind(config.journal),
        kill_every=config.kill_every,
    )
    if kills is not None:
        report.workers_killed, report.resumes = kills.killed, kills.handovers
        report.turns = report.phase_turns = kills.killed_turns  # the sessions' add to it
    outcomes = [o for r in results for o in r.outcomes]
    for result in results:
        report.phase_turns += result.phase_turns
        report.server_events += result.phase_events
        report.connect_seconds = max(report.connect_seconds, result.connect_seconds)
        report.drain_seconds = max(report.drain_seconds, result.drain_seconds)
        report.judge_seconds = max(report.judge_seconds, result.judge_seconds)
        report.cpu_seconds += result.cpu_seconds
        report.gc_seconds += result.gc_seconds
        report.warnings += result.warnings
        report.warning_samples.extend(result.warning_samples)
        if result.error is not None:
            report.findings.append(f"worker {result.worker} failed: {result.error}")
    # A worker that died sent no outcomes: its sessions count as errors.
    report.errors += config.sessions - len(outcomes)
    timed = max((r.timed_seconds for r in results), default=config.seconds) or config.seconds
    if kills is not None:
        timed = config.seconds  # the survivors may all have started late; the phase did not
    report.turns_per_second = report.phase_turns / timed
    report.events_per_second = report.server_events / timed
    _add_sessions(report, outcomes)
    report.cpu_ms_per_turn = 1000 * report.cpu_seconds / report.turns if report.turns else 0.0
    return report


def _add_sessions(report: StressReport, outcomes: Sequence[SessionOutcome]) -> None:
    updates: list[float] = []
    turns: list[float] = []
    for o in outcomes:
        report.turns += o.turns
        report.ops_sent += o.ops_sent
        report.ops_resolved += o.resolved
        report.pushes += o.pushes
        report.pushes_during_calls += o.pushes_during_calls
        report.deferred += o.deferred
        report.aliased += o.aliased
        report.tool_calls += o.tool_calls
        report.sessions_dropped += o.dropped
        report.reconnects += o.reconnects
        report.restores_judged += o.restores_judged
        report.desyncs += o.desyncs
        report.desynced_sessions += o.desyncs > 0
        report.violations += o.violations
        report.lost_items += o.lost_items + o.resume_lost
        report.calls_without_one_output += o.calls_without_one_output
        report.sessions_resumed += o.resumes > 0
        report.server_errors += o.server_errors
        report.injected_errors += o.injected_errors
        report.evicted_items += o.evicted_items
        report.duplicate_replies += o.duplicate_replies
        report.errors += o.error is not None
        report.stalls += o.stalls
        report.turn_errors += o.turn_errors
        updates.extend(o.update_latencies)
        turns.extend(o.turn_seconds)
        bad = o.desyncs or o.lost_items or o.resume_lost or o.calls_without_one_output
        if (bad or o.error) and len(report.findings) < MAX_FINDINGS:
            head = f"session {o.index} ({o.policy})"
            if o.error:
                head += f": {o.error}"
            report.findings.append(head)
            report.findings.extend(f"    {line}" for line in o.details)
    updates.sort()
    turns.sort()
    report.updates = len(updates)
    report.update_p50_ms = percentile(updates, 50) * 1000
    report.update_p99_ms = percentile(updates, 99) * 1000
    report.turn_p50_ms = percentile(turns, 50) * 1000
    report.turn_p99_ms = percentile(turns, 99) * 1000


def render(report: StressReport, console: Console) -> None:
    """The report as a rich table, the findings under it, and the verdict."""
    mode = "spoken" if report.audio else "typed"
    table = Table(
        title=f"stress: {report.sessions} sessions x {report.seconds:g} s, {mode} turns, "
        f"strategy {report.strategy}, {report.workers} worker(s)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("sessions", f"{report.sessions}"),
        ("turns (in the timed phase)", f"{report.turns} ({report.phase_turns})"),
        ("turns/s", f"{report.turns_per_second:,.1f}"),
        ("server events/s", f"{report.events_per_second:,.0f}"),
        ("operations sent (resolved)", f"{report.ops_sent} ({report.ops_resolved})"),
        ("update_chat_ctx calls", f"{report.updates}"),
        (
            "update_chat_ctx p50 / p99",
            f"{report.update_p50_ms:.1f} / {report.update_p99_ms:.1f} ms",
        ),
        ("turn p50 / p99", _ms_pair(report.turn_p50_ms, report.turn_p99_ms, 0)),
        ("policy pushes (while a call ran)", f"{report.pushes} ({report.pushes_during_calls})"),
        ("deferred deletes / aliased rewrites", f"{report.deferred} / {report.aliased}"),
        ("tool calls", f"{report.tool_calls}"),
        (
            "dropped / reconnects / restores judged",
            f"{report.sessions_dropped} / {report.reconnects} / {report.restores_judged}",
        ),
        ("stalled turns / failed turns", f"{report.stalls} / {report.turn_errors}"),
        ("desyncs (sessions)", f"{report.desyncs} ({report.desynced_sessions})"),
        ("lost items", f"{report.lost_items}"),
        ("unexpected server errors", f"{report.server_errors}"),
        ("injected server errors (retried)", f"{report.injected_errors}"),
        ("items the server truncated away", f"{report.evicted_items}"),
        ("duplicate replies", f"{report.duplicate_replies}"),
        ("calls without exactly one output", f"{report.calls_without_one_output}"),
        ("errors (sessions not run or not judged)", f"{report.errors}"),
        ("log warnings (counted, not printed)", f"{report.warnings}"),
        ("CPU (garbage collector) / per turn", _cpu(report)),
        (
            "connect / drain / judge",
            f"{report.connect_seconds:.1f} / {report.drain_seconds:.1f} / "
            f"{report.judge_seconds:.1f} s",
        ),
    ]
    if report.kill_every is not None:
        at = rows.index(("lost items", f"{report.lost_items}"))
        rows[at:at] = [
            (f"workers killed (about every {report.kill_every:g} s)", f"{report.workers_killed}"),
            ("sessions resumed (handovers)", f"{report.sessions_resumed} ({report.resumes})"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for line in report.findings:
        console.print(line, style="red", highlight=False, markup=False)
    for line in report.warning_samples[:3]:
        console.print(f"warning: {line}", style="yellow", highlight=False, markup=False)
    if report.passed:
        console.print(
            "[green]0 desyncs, 0 lost items, 0 calls without exactly one output, "
            "0 duplicate replies[/green]"
        )
    else:
        console.print(
            f"[red]{report.desyncs} desync(s), {report.lost_items} lost item(s), "
            f"{report.calls_without_one_output} call(s) without exactly one output, "
            f"{report.duplicate_replies} duplicate repl(ies), "
            f"{report.errors} session error(s)[/red]"
        )


def _journal_kind(url: str | None) -> str | None:
    """The journal's scheme for the report (a Redis URL may carry a password)."""
    return None if url is None else url.split(":", 1)[0]


def _ms_pair(p50: float, p99: float, digits: int) -> str:
    return f"{p50:.{digits}f} / {p99:.{digits}f} ms"


def _cpu(report: StressReport) -> str:
    return (
        f"{report.cpu_seconds:.1f} s ({report.gc_seconds:.1f} s) / {report.cpu_ms_per_turn:.1f} ms"
    )
