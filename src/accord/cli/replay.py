"""`accord replay TRACE.jsonl`: re-feed a recorded session to a fresh engine."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from accord.timeline import page
from accord.verify.replay import TraceError
from accord.verify.replay import replay as replay_trace


def replay(
    trace: Path = typer.Argument(..., help="A JSONL trace from --record."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write the session's timeline page here (one HTML file)."
    ),
) -> None:
    """Replay a recorded session: the same inputs, with the same id seed, must make a
    fresh engine send byte-identical client frames; then the checker judges the run over
    the server's conversation rebuilt from its frames. Exit 1 on a difference or a
    violation. ``--html`` writes the timeline page first, whatever the verdict."""
    console = Console()
    if html is not None:
        write_page(console, trace, html)
    try:
        result = replay_trace(trace)
    except TraceError as exc:
        console.print(f"[red]accord replay: {exc}[/red]")
        raise typer.Exit(2) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A missing or malformed trace is exit 2; 1 means "the frames differ".
        console.print(
            f"[red]accord replay: {trace}: not a readable trace ({type(exc).__name__}: {exc})[/red]"
        )
        raise typer.Exit(2) from exc
    console.print(f"frames recorded: {result.frames_expected}, replayed: {result.frames_replayed}")
    for index, want, got in result.mismatches[:5]:
        console.print(f"[red]frame {index} differs[/red]\n  recorded: {want}\n  replayed: {got}")
    for violation in result.violations:
        console.print(f"[red]checker: {violation}[/red]")
    if result.server_differs:
        console.print("[red]the replayed mirror differs from the server the trace recorded[/red]")
    if result.recorded_desyncs is not None:
        console.print(
            f"recorded verdict: {result.recorded_desyncs} desync(s); replay: "
            f"{'desynced' if result.desynced else 'no desync'}"
        )
        if not result.verdict_reproduced:
            console.print("[red]the replay does not reproduce the recorded verdict[/red]")
            for finding in result.recorded_findings[:5]:
                console.print(f"  recorded: {finding}", highlight=False, markup=False)
    if not result.identical or result.desynced or not result.verdict_reproduced:
        raise typer.Exit(1)
    console.print("[green]byte-identical[/green]; checker: 0 violations")


@contextlib.contextmanager
def timeline_trace(record: Path | None, html: Path | None) -> Iterator[Path | None]:
    """Where a run that writes a timeline page records its trace: ``record`` when asked
    for, else (only when a page is wanted) a temporary file removed afterwards."""
    if record is not None or html is None:
        yield record
        return
    with tempfile.TemporaryDirectory(prefix="accord-timeline-") as folder:
        yield Path(folder) / "trace.jsonl"


def write_page(console: Console, trace: Path, html: Path) -> None:
    """Write the timeline page of ``trace`` to ``html`` (exit 2 when it cannot be read)."""
    try:
        page(trace, html)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        console.print(f"[red]accord: {trace}: no timeline page ({type(exc).__name__}: {exc})[/red]")
        raise typer.Exit(2) from exc
    console.print(f"timeline page written to {html}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
