"""`accord chat`: interactive text chat against the real API or the simulator."""

from __future__ import annotations

import typer

from accord.cli.unbuilt import refuse


def chat(
    url: str | None = typer.Option(None, "--url", help="A Realtime-compatible ws:// URL."),
    sim: bool = typer.Option(False, "--sim", help="Chat with the embedded simulator."),
) -> None:
    """Chat in text; uses OPENAI_API_KEY against the real API when no --sim or --url."""
    refuse("chat", "the Realtime session and agent runtime (the session and agent issues)")


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
