"""`accord demo`: the main job.

Interim form (until the sync engine and agent runtime land): race R1 of shared/RACES.md
played on the reference store with the naive strategy, step by step, then judged by the
invariant checker. It shows the bug accord exists to fix; it exits 0 when the run shows
exactly that, and 1 if the walkthrough itself went wrong.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from accord.explore.walkthrough import Step, play_r1


def demo(
    strategy: str = typer.Option("naive", "--strategy", help="naive (accord: with the engine)."),
) -> None:
    """Play race R1 (a context edit during a function call) and judge the result."""
    console = Console()
    if strategy != "naive":
        console.print(
            "[red]accord demo: only --strategy naive is available until the sync "
            "engine lands (the engine issue).[/red]"
        )
        raise typer.Exit(2)
    console.rule("[bold]Race R1: a context edit while a function call is in flight")

    def show(step: Step) -> None:
        style = "red" if step.error else "green"
        console.print(f"[bold]{step.actor:>6}[/bold]  {step.action}")
        console.print(f"        [{style}]{step.outcome}[/{style}]")
        console.print(f"        server: {' '.join(step.server_ids) or '(empty)'}")

    result = play_r1(strategy, on_step=show)
    console.rule("[bold]Checker (shared/DESIGN.md invariants)")
    table = Table()
    table.add_column("invariant")
    table.add_column("item")
    table.add_column("what happened")
    for v in result.violations:
        table.add_row(f"{v.invariant.value} {v.invariant.name}", v.item_id or "", v.detail)
    console.print(table)
    lost = {v.item_id for v in result.violations if v.invariant.value == 1}
    if "fc1" not in lost:
        console.print("[red]The walkthrough did not reproduce R1's loss of fc1.[/red]")
        raise typer.Exit(1)
    console.print(
        f"The naive strategy broke {len({v.invariant for v in result.violations})} invariants: "
        "it deleted fc1, a call its writer had never seen. accord's three-way merge keeps it."
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
