"""`accord explore`: exhaustive interleaving exploration over engine + store."""

from __future__ import annotations

import typer

from accord.cli.unbuilt import refuse


def explore(
    strategy: str = typer.Option("accord", "--strategy", help="accord or naive."),
    depth: int = typer.Option(8, "--depth", help="Exhaustive up to this many steps."),
) -> None:
    """Enumerate interleavings of the race scenarios and check every schedule."""
    refuse("explore", "the sync engine (the engine issue) and the explorer")


def register(app: typer.Typer) -> None:
    app.command("explore")(explore)
