"""`accord bench`: reproducible measurements, reported as Rich tables or JSON.

``accord bench --quick`` runs every benchmark in quick mode (the test suite's check that
each runs and reports); ``accord bench --all`` runs them all in full; a subcommand runs
one. Without any of these it shows the help. See docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from accord.bench import suite
from accord.bench.diff_bench import SCALING_SIZES
from accord.bench.report import Report
from accord.bench.sessions_bench import FULL_SIZES, Durations

bench_app = typer.Typer(help="Benchmarks (see docs/benchmarks.md).")

JSON_HELP = "Print one JSON object instead of tables."
QUICK_HELP = "A small, short run (for the test suite); no target verdicts."
CHECK_HELP = "Exit 1 when a target is not met (a run without verdicts checks nothing)."


def _sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def _flag(ctx: typer.Context, name: str, own: bool) -> bool:
    """A flag given to the subcommand or to `accord bench` before it."""
    parent = ctx.parent.params if ctx.parent is not None else {}
    return own or bool(parent.get(name))


def _emit(report: Report, as_json: bool, check: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        report.print(Console())
    _check([report], check)


def _check(reports: list[Report], check: bool) -> None:
    """Under ``--check``, a target not met is a failure of the command."""
    missed = [v for r in reports for v in r.verdicts if v.status == "not met"]
    if check and missed:
        console = Console(stderr=True)
        for verdict in missed:
            console.print(f"[red]target not met:[/red] {verdict.target} ({verdict.measured})")
        raise typer.Exit(1)


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    quick: bool = typer.Option(False, "--quick", help="Run every benchmark, quickly."),
    run_all: bool = typer.Option(False, "--all", help="Run every benchmark in full (minutes)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """Benchmarks: diff, engine, push, update, sessions (docs/benchmarks.md)."""
    if ctx.invoked_subcommand is not None:
        return
    if not (quick or run_all):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    console = Console(stderr=True)
    reports: list[Report] = []
    for name, run in (
        ("diff", suite.run_diff),
        ("engine", suite.run_engine),
        ("push", suite.run_push),
        ("update", suite.run_update),
        ("sessions", suite.run_sessions),
    ):
        if not as_json:
            console.print(f"[dim]running {name}...[/dim]")
        report = run(quick=quick)
        reports.append(report)
        if not as_json:
            report.print(Console())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "benchmark": "all",
                    "quick": quick,
                    "results": [r.to_json() for r in reports],
                }
            )
        )
    _check(reports, check)


@bench_app.command("diff")
def diff(
    ctx: typer.Context,
    sizes: str = typer.Option(
        ",".join(map(str, SCALING_SIZES)), "--sizes", help="Comma-separated item counts."
    ),
    repeat: int = typer.Option(
        5, "--repeat", help="Least runs per size (fast sizes get more); the best is reported."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the edit generator."),
    move_percent: float = typer.Option(
        0.0,
        "--move-percent",
        help="Also move this % of the items (forces accord's LIS step; no verdicts).",
    ),
    compare: bool = typer.Option(
        True, "--compare/--no-compare", help="Time LiveKit's diff beside accord's if installed."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write the scaling curve (log-log) to this PNG (needs matplotlib)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """compute_diff scaling, beside LiveKit's compute_chat_ctx_diff.

    The edit generator's cases (half deleted, n/20 new, n/50 edited). LiveKit's diff
    runs on the same cases when livekit-agents is installed: pip install
    "accord\\[compare]".
    """
    report = suite.run_diff(
        quick=_flag(ctx, "quick", quick),
        sizes=_sizes(sizes),
        repeat=repeat,
        seed=seed,
        move_percent=move_percent,
        compare=compare,
        plot=plot,
    )
    _emit(report, _flag(ctx, "as_json", as_json), _flag(ctx, "check", check))


@bench_app.command("engine")
def engine(
    ctx: typer.Context,
    events: int = typer.Option(20_000, "--events", help="Events per workload."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """Server events per second through codec + engine, one core.

    Text deltas, audio deltas (4 KiB payloads) and item events.
    """
    report = suite.run_engine(quick=_flag(ctx, "quick", quick), events=events)
    _emit(report, _flag(ctx, "as_json", as_json), _flag(ctx, "check", check))


@bench_app.command("push")
def push(
    ctx: typer.Context,
    sizes: str = typer.Option(
        "100,1000,10000", "--sizes", help="Conversation sizes, comma-separated."
    ),
    repeat: int = typer.Option(
        0,
        "--repeat",
        help="Pushes per size, best reported (0: 30 up to 1,000 items, fewer above).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """One appended message: SyncEngine.push as a ratio to the diff of the same edit."""
    report = suite.run_push(
        quick=_flag(ctx, "quick", quick),
        sizes=_sizes(sizes),
        repeat=repeat or None,
    )
    _emit(report, _flag(ctx, "as_json", as_json), _flag(ctx, "check", check))


@bench_app.command("update")
def update(
    ctx: typer.Context,
    latency_ms: float = typer.Option(50.0, "--latency-ms", help="Simulated latency each way."),
    runs: int = typer.Option(7, "--runs", help="Pushes per size (median reported)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """update_chat_ctx latency against one simulator round trip.

    1 to 500 operations, with no response active and with one streaming.
    """
    report = suite.run_update(quick=_flag(ctx, "quick", quick), latency_ms=latency_ms, runs=runs)
    _emit(report, _flag(ctx, "as_json", as_json), _flag(ctx, "check", check))


@bench_app.command("sessions")
def sessions(
    ctx: typer.Context,
    sizes: str = typer.Option(
        ",".join(map(str, FULL_SIZES)), "--sizes", help="Comma-separated session counts."
    ),
    idle_s: float = typer.Option(Durations.idle_s, "--idle-s", help="Idle window (s)."),
    active_s: float = typer.Option(Durations.active_s, "--active-s", help="Active window (s)."),
    period_s: float = typer.Option(
        Durations.period_s, "--period-s", help="Seconds between a session's turns."
    ),
    grace_s: float = typer.Option(
        Durations.grace_s, "--grace-s", help="Time given to turns still running at the end."
    ),
    gc_freeze: bool = typer.Option(
        False,
        "--gc-freeze",
        help="Tune the collector as a long-running server would (and accord stress does): "
        "gc.freeze() once the sessions are set up, first-generation threshold 50,000.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
    check: bool = typer.Option(False, "--check", help=CHECK_HELP),
) -> None:
    """Many sessions in one process: memory when idle, load when active.

    The simulator runs in another process. Idle: tracemalloc bytes per session holding
    a 100-item conversation. Active: events/s, turns done, turn latency, CPU.
    """
    report = suite.run_sessions(
        quick=_flag(ctx, "quick", quick),
        sizes=_sizes(sizes),
        durations=Durations(idle_s=idle_s, active_s=active_s, period_s=period_s, grace_s=grace_s),
        gc_freeze=gc_freeze,
    )
    _emit(report, _flag(ctx, "as_json", as_json), _flag(ctx, "check", check))


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("cached-share")
def cached_share(
    turns: int = typer.Option(200, "--turns", help="Typed turns per session."),
    limit: int = typer.Option(1000, "--limit", help="The server's post_instructions limit."),
    budget: int = typer.Option(800, "--budget", help="TokenBudget's max_tokens."),
    ratio: float = typer.Option(0.5, "--ratio", help="The retention_ratio way's ratio."),
) -> None:
    """Cached-token share of a long session: TokenBudget, retention_ratio, auto
    (docs/truncation.md, "The budget policy")."""
    from accord.bench import budget_bench

    args = {"--turns": turns, "--limit": limit, "--budget": budget, "--ratio": ratio}
    budget_bench.main([part for pair in args.items() for part in map(str, pair)])


@bench_app.command("long-session")
def long_session(
    ctx: typer.Context,
    turns: int = typer.Option(10_000, "--turns", help="Turns of the session, per policy."),
    warmup: int = typer.Option(200, "--warmup", help="Turns before the first sample."),
    sample_every: int = typer.Option(100, "--sample-every", help="Turns between samples."),
    policies: str = typer.Option(
        "keep-last-turns,summarize-older",
        "--policies",
        help="Comma-separated: keep-last-turns, summarize-older.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
) -> None:
    """One long session with tool calls: the client's growth per turn (issue 20).

    Objects the collector tracks and tracemalloc's bytes, sampled after a warm-up, as a
    least-squares slope per turn; the conversation's length per turn.
    """
    report = suite.run_long_session(
        quick=_flag(ctx, "quick", quick),
        turns=turns,
        warmup=warmup,
        sample_every=sample_every,
        policies=[p.strip() for p in policies.split(",") if p.strip()],
    )
    _emit(report, _flag(ctx, "as_json", as_json), False)
