"""`accord demo`: the main job.

Starts the simulator in-process on a free loopback port and runs a scripted
voice-agent conversation (typed and spoken turns, a fast and a slow tool, a summarizer
and a trimmer firing while calls are in flight, a redactor rewriting tool outputs),
printing the transcript live and a sync report at the end. Exit status 1 on any desync.
``--race r1`` instead plays race R1 through the engine + store pair, naive versus
accord side by side.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accord.cli.replay import timeline_trace, write_page
from accord.demo.scenario import DemoConfig, DemoResult, run_demo
from accord.demo.story import Story
from accord.explore.walkthrough import Step, Walkthrough, play_r1
from accord.verify.checker import Invariant
from accord.verify.strategies import STRATEGIES

MAX_LISTED = 8  # findings of each kind printed; a trace holds every one


def demo(
    turns: int = typer.Option(20, "--turns", help="User turns to play."),
    latency_ms: float = typer.Option(20.0, "--latency-ms", help="Simulated latency each way."),
    seed: int = typer.Option(0, "--seed", help="Seed of the script, ids and jitter."),
    strategy: str = typer.Option("accord", "--strategy", help="accord, or naive to see the bug."),
    record: Path | None = typer.Option(None, "--record", help="Write a JSONL trace here."),
    race: str | None = typer.Option(None, "--race", help="Play one race instead: r1."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Play every turn after the first desync (default: stop)."
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Write the session's timeline page here (one HTML file)."
    ),
) -> None:
    """Run the demo conversation on the embedded simulator and report desyncs."""
    console = Console()
    if strategy not in STRATEGIES:
        console.print(f"[red]accord demo: unknown strategy {strategy!r} (accord or naive)[/red]")
        raise typer.Exit(2)
    if race is not None:
        _race(console, race)
        return
    console.rule(f"[bold]accord demo[/bold]: {turns} turns, strategy {strategy}, seed {seed}")
    with timeline_trace(record, html) as trace:  # the page is built from a trace
        config = DemoConfig(
            turns=turns,
            latency_ms=latency_ms,
            seed=seed,
            strategy=strategy,
            record=trace,
            stop_at_first_desync=not keep_going,
        )
        result = asyncio.run(run_demo(config, lambda line: console.print(line, highlight=False)))
        _report(console, result)
        if html is not None and trace is not None:
            write_page(console, trace, html)
    if record is not None:
        console.print(f"trace written to {record} (check it with: accord replay {record})")
    if result.failed:
        raise typer.Exit(1)


def _report(console: Console, result: DemoResult) -> None:
    stats = result.stats
    table = Table(title="sync report")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in (
        ("operations sent", result.ops_sent),
        ("operations resolved", result.resolved),
        ("context pushes", stats.pushes),
        ("pushes while a call was in flight", stats.pushes_during_calls),
        ("deferred deletes", stats.deferred),
        ("aliased rewrites", stats.aliased),
        ("tool calls", stats.tool_calls),
        ("invariant violations", len(result.violations)),
        ("mirror == simulator store", "yes" if result.mirror_matches else "NO"),
        ("unexpected server errors", len(result.errors)),
        ("turns the client timed out on", len(result.timeouts)),
        ("desyncs", result.desyncs),
    ):
        table.add_row(name, str(value))
    console.print(table)
    if result.story is not None:
        _story(console, result.story)
    shown = result.violations[:MAX_LISTED]
    for violation in shown:
        console.print(f"[red]{escape(str(violation))}[/red]")
    for error in result.errors[:MAX_LISTED]:
        console.print(f"[red]server error: {escape(error)}[/red]")
    for timeout in result.timeouts[:MAX_LISTED]:
        console.print(f"[yellow]client timeout: {escape(timeout)}[/yellow]")
    hidden = (
        len(result.violations)
        - len(shown)
        + max(0, len(result.errors) - MAX_LISTED)
        + max(0, len(result.timeouts) - MAX_LISTED)
    )
    if hidden > 0:
        console.print(f"... and {hidden} more (all of them in a trace: --record FILE)")
    if result.stopped_early:
        console.print(
            f"stopped after turn {result.turns_played} of the script at the first desync "
            "(--keep-going plays every turn)"
        )
    if not result.failed:
        console.print("[green]0 desyncs[/green]")
    else:
        timeouts = f", {len(result.timeouts)} client timeout(s)" if result.timeouts else ""
        console.print(f"[red]{result.desyncs} desync(s){timeouts}[/red]")


def _story(console: Console, story: Story) -> None:
    lines = story.render()
    console.print(f"[bold red]{escape(lines[0])}[/bold red]")
    for line in lines[1:-1]:
        console.print(escape(line), highlight=False)
    console.print(f"[red]{escape(lines[-1])}[/red]")


def _race(console: Console, race: str) -> None:
    if race.lower() != "r1":
        console.print(f"[red]accord demo: unknown race {race!r} (r1)[/red]")
        raise typer.Exit(2)
    runs = {name: play_r1(name) for name in ("naive", "accord")}
    table = Table(
        title="Race R1: a context edit while a function call is in flight", show_lines=True
    )
    table.add_column("step", max_width=34)
    for name in runs:
        table.add_column(name)
    for i, step in enumerate(runs["naive"].steps):
        table.add_row(
            f"[bold]{step.actor}[/bold]: {step.action}",
            *(_cell(runs[name].steps[i]) for name in runs),
        )
    table.add_row("[bold]checker[/bold]", *(_verdict(runs[name]) for name in runs))
    console.print(table)
    lost = {v.item_id for v in runs["naive"].violations if v.invariant is Invariant.NO_LOST_ITEM}
    if runs["accord"].violations or "fc1" not in lost:
        raise typer.Exit(1)


def _cell(step: Step) -> str:
    sent = "\n".join(f"-> {s}" for s in step.sent) or "(nothing sent)"
    errors = "\n".join(f"[red]!! {e}[/red]" for e in step.errors)
    server = "server: " + (" ".join(step.server_ids) or "(empty)")
    return "\n".join(part for part in (sent, errors, server) if part)


def _verdict(run: Walkthrough) -> str:
    if not run.violations:
        return "[green]0 violations: nothing lost, mirror == server[/green]"
    return "\n".join(
        f"[red]{v.invariant.value} {v.invariant.name}[/red] {escape(v.item_id or '')}: "
        f"{escape(v.detail)}"
        for v in run.violations
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
