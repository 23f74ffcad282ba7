"""`accord sim serve`: the OpenAI-Realtime-compatible simulator server."""

from __future__ import annotations

import asyncio
import contextlib

import typer

from accord.sim.channel import Transit
from accord.sim.config import Quirks, SimConfig
from accord.sim.server import SimServer

sim_app = typer.Typer(help="The OpenAI-Realtime-compatible simulator.", no_args_is_help=True)


@sim_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
    require_key: str | None = typer.Option(
        None,
        "--require-key",
        envvar="ACCORD_SIM_KEY",
        help="Refuse other keys with the real server's error and close code 3000.",
    ),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="Transit delay each way."),
    jitter_ms: float = typer.Option(0.0, "--jitter-ms", help="+/- jitter on the delay."),
    seed: int = typer.Option(0, "--seed", help="Seed of ids and jitter."),
    session_minutes: float = typer.Option(
        60.0, "--session-minutes", help="Session expiry (the real limit is 60)."
    ),
    beta_expiry: bool = typer.Option(
        False, "--beta-expiry", help="Send session_expired before closing, as beta did."
    ),
    auto_response_after_output: bool = typer.Option(
        False,
        "--auto-response-after-output",
        help="Quirk: start a response on its own after a function_call_output.",
    ),
) -> None:
    """Serve ws://HOST:PORT/v1/realtime?model=NAME; prints that URL first."""
    config = SimConfig(
        host=host,
        port=port,
        require_key=require_key,
        session_max_seconds=session_minutes * 60,
        beta_expiry=beta_expiry,
        upstream=Transit(latency_ms, jitter_ms, seed),
        downstream=Transit(latency_ms, jitter_ms, seed + 1),
        quirks=Quirks(auto_response_after_output=auto_response_after_output),
        seed=seed,
    )

    async def main() -> None:
        async with SimServer(config) as server:
            typer.echo(f"{server.url}?model=gpt-realtime", nl=True)
            typer.echo(
                f"OpenAI SDK: AsyncOpenAI(websocket_base_url={server.base_url!r}); Ctrl-C to stop.",
                err=True,
            )
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
