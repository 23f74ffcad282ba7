"""What a subcommand says while the part it drives is not built yet: a clear refusal."""

from __future__ import annotations

import typer

EXIT_UNAVAILABLE = 2


def refuse(command: str, needs: str) -> None:
    """Exit with status 2 and say which part is missing, instead of pretending to work."""
    typer.echo(f"accord {command}: not available yet: it needs {needs}.", err=True)
    raise typer.Exit(EXIT_UNAVAILABLE)
