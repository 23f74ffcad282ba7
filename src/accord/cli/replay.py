"""`accord replay TRACE.jsonl`: re-feed a recorded session to a fresh engine."""

from __future__ import annotations

from pathlib import Path

import typer

from accord.cli.unbuilt import refuse


def replay(trace: Path = typer.Argument(..., help="A JSONL trace from --record.")) -> None:
    """Replay a recorded session and check it emits byte-identical client frames."""
    refuse("replay", "the Realtime session's recording (the session issue)")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
