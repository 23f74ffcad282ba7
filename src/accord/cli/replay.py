"""`accord replay TRACE.jsonl`: re-feed a recorded session to a fresh engine."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from accord.client.recording import replay as replay_trace


def replay(trace: Path = typer.Argument(..., help="A JSONL trace from --record.")) -> None:
    """Replay a recorded session: the same inputs, with the same id seed, must make a
    fresh engine send byte-identical client frames. Exit 1 on any difference."""
    console = Console()
    try:
        result = replay_trace(trace)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A missing or malformed trace is exit 2; 1 means "the frames differ".
        console.print(
            f"[red]accord replay: {trace}: not a readable trace ({type(exc).__name__}: {exc})[/red]"
        )
        raise typer.Exit(2) from exc
    console.print(f"frames recorded: {result.frames_expected}, replayed: {result.frames_replayed}")
    for index, want, got in result.mismatches[:5]:
        console.print(f"[red]frame {index} differs[/red]\n  recorded: {want}\n  replayed: {got}")
    if not result.identical:
        raise typer.Exit(1)
    console.print("[green]byte-identical[/green]")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
