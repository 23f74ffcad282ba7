"""`accord sim serve`: the OpenAI-Realtime-compatible simulator server."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from typing import NoReturn, cast

import typer

from accord.sim.channel import Transit
from accord.sim.config import REFUSABLE_KINDS, Quirks, RefusableKind, ServerErrorFaults, SimConfig
from accord.sim.dialects import DIALECTS
from accord.sim.server import SimServer

sim_app = typer.Typer(help="The OpenAI-Realtime-compatible simulator.", no_args_is_help=True)

MAX_PORT = 65535
AZURE_API_VERSION = "2025-08-28"  # printed in the Azure URL; the simulator takes any


def sim_config(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    require_key: str | None = None,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    seed: int = 0,
    session_minutes: float = 60.0,
    max_session_s: float | None = None,
    beta_expiry: bool = False,
    auto_response_after_output: bool = False,
    server_errors: float = 0.0,
    server_error_kinds: str = ",".join(REFUSABLE_KINDS),
    dialect: str = "openai",
) -> SimConfig:
    """The configuration the switches describe; a bad value raises ``ValueError``."""
    kinds = [k.strip() for k in server_error_kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(REFUSABLE_KINDS))
    if unknown:
        raise ValueError(f"unknown operation kinds {unknown}: use {','.join(REFUSABLE_KINDS)}")
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    cap = max_session_s if max_session_s is not None else session_minutes * 60
    if cap <= 0:
        raise ValueError(f"the session cap must be positive, not {cap:g} s")
    return SimConfig(
        host=host,
        port=port,
        require_key=require_key,
        session_max_seconds=cap,
        beta_expiry=beta_expiry,
        upstream=Transit(latency_ms, jitter_ms, seed),
        downstream=Transit(latency_ms, jitter_ms, seed + 1),
        quirks=Quirks(auto_response_after_output=auto_response_after_output),
        server_errors=ServerErrorFaults(server_errors, frozenset(cast(list[RefusableKind], kinds))),
        seed=seed,
        dialect=dialect,
    )


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
    max_session_s: float | None = typer.Option(
        None,
        "--max-session-s",
        help="Session expiry in seconds (overrides --session-minutes; for short test caps).",
    ),
    beta_expiry: bool = typer.Option(
        False, "--beta-expiry", help="Send session_expired before closing, as beta did."
    ),
    auto_response_after_output: bool = typer.Option(
        False,
        "--auto-response-after-output",
        help="Quirk: start a response on its own after a function_call_output.",
    ),
    server_errors: float = typer.Option(
        0.0,
        "--server-errors",
        min=0.0,
        max=1.0,
        help="Answer this share (0..1) of the client's operations with server_error.",
    ),
    server_error_kinds: str = typer.Option(
        ",".join(REFUSABLE_KINDS),
        "--server-error-kinds",
        help="Which operations --server-errors may refuse (comma-separated).",
    ),
    dialect: str = typer.Option(
        "openai",
        "--dialect",
        help=f"Which server to be: {', '.join(DIALECTS)} (see docs/simulator.md).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", help="Log nothing about connections, closes and errors sent."
    ),
) -> None:
    """Serve ws://HOST:PORT/v1/realtime?model=NAME; prints that URL first.

    Logs each connection, close and error sent to a client on stderr (never a key)."""
    if not 0 <= port <= MAX_PORT:
        _fail(f"port {port} is out of range (0-{MAX_PORT}; 0 picks a free port)")
    try:
        config = sim_config(
            host=host,
            port=port,
            require_key=require_key,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            seed=seed,
            session_minutes=session_minutes,
            max_session_s=max_session_s,
            beta_expiry=beta_expiry,
            auto_response_after_output=auto_response_after_output,
            server_errors=server_errors,
            server_error_kinds=server_error_kinds,
            dialect=dialect,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    _log_connections(quiet)

    async def main() -> None:
        server = SimServer(config)
        try:
            await server.start()
        except OSError as exc:
            _fail(f"cannot listen on {host}:{port}: {_why(exc)}")
        try:
            query = (
                f"?api-version={AZURE_API_VERSION}&deployment=gpt-realtime"
                if config.dialect == "azure"
                else "?model=gpt-realtime"
            )
            typer.echo(f"{server.url}{query}", nl=True)
            typer.echo(
                f"OpenAI SDK: AsyncOpenAI(websocket_base_url={server.base_url!r}); Ctrl-C to stop.",
                err=True,
            )
            await server.serve_forever()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: a usage problem, not a crash."""
    typer.echo(f"accord sim serve: {message}", err=True)
    raise typer.Exit(2)


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (another server is on that port; try --port 0)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "address not available on this machine"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return exc.strerror or str(exc)


def _log_connections(quiet: bool) -> None:
    """Connection logs on stderr, one line each; ``--quiet`` keeps only warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("accord.sim")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
