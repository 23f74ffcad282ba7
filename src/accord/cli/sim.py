"""`accord sim serve`: the OpenAI-Realtime-compatible simulator server."""

from __future__ import annotations

import typer

from accord.cli.unbuilt import refuse

sim_app = typer.Typer(help="The OpenAI-Realtime-compatible simulator.", no_args_is_help=True)


@sim_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
) -> None:
    """Serve ws://HOST:PORT/v1/realtime?model=NAME; prints that URL first."""
    refuse("sim serve", "the simulator server (the simulator issue)")


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
