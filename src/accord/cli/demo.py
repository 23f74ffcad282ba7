"""`accord demo`: the main job.

Interim form (until the simulator server and agent runtime land): race R1 of
shared/RACES.md, a context edit while a function call is in flight, played through the
engine + reference store pair for the naive strategy and for accord, side by side, then
judged by the invariant checker. Exit status 1 if accord shows any violation (a desync),
or if the naive run fails to show the bug (the demo would then prove nothing).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from accord.explore.checker import Invariant
from accord.explore.walkthrough import Step, Walkthrough, play_r1


def _cell(step: Step) -> str:
    sent = "\n".join(f"-> {s}" for s in step.sent) or "(nothing sent)"
    errors = "\n".join(f"[red]!! {e}[/red]" for e in step.errors)
    server = "server: " + (" ".join(step.server_ids) or "(empty)")
    return "\n".join(part for part in (sent, errors, server) if part)


def _verdict(run: Walkthrough) -> str:
    if not run.violations:
        return "[green]0 violations: nothing lost, mirror == server[/green]"
    return "\n".join(
        f"[red]{v.invariant.value} {v.invariant.name}[/red] {v.item_id or ''}: {v.detail}"
        for v in run.violations
    )


def demo(
    strategy: str = typer.Option("both", "--strategy", help="naive, accord, or both side by side."),
) -> None:
    """Play race R1 (a context edit during a function call) and judge the result."""
    console = Console()
    if strategy not in ("both", "naive", "accord"):
        console.print(f"[red]accord demo: unknown strategy {strategy!r}[/red]")
        raise typer.Exit(2)
    names = ["naive", "accord"] if strategy == "both" else [strategy]
    runs = {name: play_r1(name) for name in names}
    table = Table(
        title="Race R1: a context edit while a function call is in flight", show_lines=True
    )
    table.add_column("step", max_width=34)
    for name in names:
        table.add_column(name)
    for i, step in enumerate(runs[names[0]].steps):
        table.add_row(
            f"[bold]{step.actor}[/bold]: {step.action}",
            *(_cell(runs[name].steps[i]) for name in names),
        )
    table.add_row(
        "[bold]checker[/bold] (shared/DESIGN.md invariants)",
        *(_verdict(runs[name]) for name in names),
    )
    console.print(table)
    failed = False
    if "accord" in runs and runs["accord"].violations:
        console.print("[red]accord desynced: this is a bug.[/red]")
        failed = True
    if "naive" in runs:
        lost = {
            v.item_id for v in runs["naive"].violations if v.invariant is Invariant.NO_LOST_ITEM
        }
        if "fc1" not in lost:
            console.print("[red]The naive run did not reproduce R1's loss of fc1.[/red]")
            failed = True
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
