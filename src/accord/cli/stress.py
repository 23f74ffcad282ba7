"""`accord stress`: many concurrent full-stack sessions against the simulator."""

from __future__ import annotations

import typer

from accord.cli.unbuilt import refuse


def stress(
    sessions: int = typer.Option(100, "--sessions", help="Concurrent sessions."),
    seconds: float = typer.Option(10.0, "--seconds", help="How long to run."),
    strategy: str = typer.Option("accord", "--strategy", help="accord or naive."),
) -> None:
    """Run sessions concurrently and check each against the simulator's store."""
    refuse("stress", "the session, agent and simulator (the explore-and-stress issue)")


def register(app: typer.Typer) -> None:
    app.command("stress")(stress)
