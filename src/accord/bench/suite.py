"""Each benchmark as one call returning a :class:`Report`, full or quick.

``quick`` runs are for the test suite: small sizes and short windows, to check that
every benchmark runs and reports; their numbers are not compared with the targets.
Full runs carry the target verdicts (:mod:`accord.bench.targets`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from accord.bench import (
    diff_bench,
    engine_bench,
    livekit_diff,
    long_session,
    machine,
    push_bench,
    sessions_bench,
    update_bench,
)
from accord.bench import targets as tg
from accord.bench.report import (
    Report,
    diff_report,
    engine_report,
    push_report,
    sessions_report,
    update_report,
)

P = ParamSpec("P")

QUICK_ENGINE_EVENTS = 500
QUICK_UPDATE_LATENCY_MS = 5.0
QUICK_UPDATE_RUNS = 2


def _on_machine(run: Callable[P, Report]) -> Callable[P, Report]:
    """Record the machine (and its load when the run started) in the report."""

    @functools.wraps(run)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Report:
        info = machine.describe()
        report = run(*args, **kwargs)
        report.extra["machine"] = info
        return report

    return wrapper


@_on_machine
def run_diff(
    *,
    quick: bool = False,
    sizes: Sequence[int] = diff_bench.SCALING_SIZES,
    repeat: int = 5,
    seed: int = 0,
    move_percent: float = 0.0,
    compare: bool = True,
    plot: str | Path | None = None,
) -> Report:
    """accord's diff on every size, LiveKit's beside it when installed, and the plot."""
    ns = diff_bench.QUICK_SIZES if quick else tuple(sizes)
    lk = livekit_diff.load() if compare else None
    notes: list[str] = []
    if compare and lk is None:
        notes.append(livekit_diff.SKIPPED)
    rows = [
        diff_bench.compare(
            [n], repeat=repeat, seed=seed, moves=_moves(n, move_percent), livekit=lk
        )[0]
        for n in ns
    ]
    report = diff_report(rows, repeat=repeat, livekit_version=lk.version if lk else None)
    report.notes.extend(notes)
    if plot is not None:
        from accord.bench.plot import PlotUnavailableError, plot_scaling

        try:
            written = plot_scaling(rows, plot, subtitle=_plot_subtitle(move_percent))
            report.notes.append(f"plot written to {written}")
            report.extra["plot"] = str(written)
        except PlotUnavailableError as exc:
            report.notes.append(f"no plot: {exc}")
    if not quick and move_percent == 0:
        report.verdicts = tg.diff_targets(rows)
    return report


def _moves(n: int, percent: float) -> int:
    return 0 if percent <= 0 else max(1, math.ceil(n * percent / 100))


def _plot_subtitle(move_percent: float) -> str:
    edit = "half deleted, n/20 inserted, n/50 edited"
    moved = f", {move_percent:g}% moved" if move_percent else ""
    return f"{edit}{moved}; best CPU time"


@_on_machine
def run_engine(*, quick: bool = False, events: int = 20_000) -> Report:
    n = QUICK_ENGINE_EVENTS if quick else events
    rates = [
        engine_bench.measure(name, n, repeat=1 if quick else 3) for name in engine_bench.WORKLOADS
    ]
    report = engine_report(rates)
    if not quick:
        report.verdicts = tg.engine_targets(rates)
    return report


@_on_machine
def run_push(
    *,
    quick: bool = False,
    sizes: Sequence[int] = push_bench.FULL_SIZES,
    repeat: int | None = None,
) -> Report:
    timings = push_bench.measure(
        push_bench.QUICK_SIZES if quick else tuple(sizes), repeat=1 if quick else repeat
    )
    report = push_report(timings)
    if not quick:
        report.verdicts = tg.push_targets(timings)
    return report


@_on_machine
def run_update(*, quick: bool = False, latency_ms: float = 50.0, runs: int = 7) -> Report:
    latency = QUICK_UPDATE_LATENCY_MS if quick else latency_ms
    timings = update_bench.measure(
        update_bench.QUICK_SIZES if quick else update_bench.FULL_SIZES,
        latency_ms=latency,
        runs=QUICK_UPDATE_RUNS if quick else runs,
    )
    report = update_report(timings, latency_ms=latency)
    if not quick:
        report.verdicts = tg.update_targets(timings)
    return report


@_on_machine
def run_sessions(
    *,
    quick: bool = False,
    sizes: Sequence[int] = sessions_bench.FULL_SIZES,
    durations: sessions_bench.Durations | None = None,
    gc_freeze: bool = False,
) -> Report:
    chosen = sessions_bench.QUICK if quick else durations or sessions_bench.Durations()
    results = sessions_bench.measure(
        sessions_bench.QUICK_SIZES if quick else tuple(sizes),
        durations=chosen,
        gc_freeze=gc_freeze,
    )
    report = sessions_report(results, period_s=chosen.period_s)
    report.extra["durations"] = {
        "idle_s": chosen.idle_s,
        "active_s": chosen.active_s,
        "period_s": chosen.period_s,
        "grace_s": chosen.grace_s,
    }
    if not quick:
        report.verdicts = tg.sessions_targets(results)
    return report


QUICK_LONG_SESSION = (30, 10, 5)  # turns, warm-up, turns between samples


@_on_machine
def run_long_session(
    *,
    quick: bool = False,
    turns: int = 10_000,
    warmup: int = 200,
    sample_every: int = 100,
    policies: Sequence[str] = long_session.POLICIES,
) -> Report:
    if quick:
        turns, warmup, sample_every = QUICK_LONG_SESSION
    runs = long_session.measure(
        turns, warmup=warmup, sample_every=sample_every, policies=tuple(policies)
    )
    return long_session.report(runs)


def run_all(*, quick: bool = False) -> list[Report]:
    """Every benchmark, in the order of the issue."""
    return [
        run_diff(quick=quick),
        run_engine(quick=quick),
        run_push(quick=quick),
        run_update(quick=quick),
        run_sessions(quick=quick),
    ]
