"""`accord chat`: interactive text chat with the demo's agent and tools.

Against the real API with ``OPENAI_API_KEY`` (a clear message when it is missing), a
compatible ``--url``, or the embedded simulator with ``--sim``. Type a line to talk;
``/quit`` or end-of-input ends the chat.
"""

from __future__ import annotations

import asyncio
import os
import sys

import typer
from rich.console import Console

from accord.agent import ToolFinished, ToolStarted, Transcript
from accord.client.errors import AccordError, OperationTimeout, RealtimeError
from accord.demo.scenario import make_agent
from accord.session import RealtimeSession
from accord.sim.server import SimServer

QUIT = ("/quit", "/exit")
TURN_TIMEOUT = 60.0


def chat(
    url: str | None = typer.Option(None, "--url", help="A Realtime-compatible ws:// URL."),
    sim: bool = typer.Option(False, "--sim", help="Chat with the embedded simulator."),
    model: str = typer.Option("gpt-realtime", "--model", help="Model name."),
) -> None:
    """Chat in text; uses OPENAI_API_KEY against the real API when no --sim or --url."""
    console = Console()
    key = os.environ.get("OPENAI_API_KEY")
    if not sim and url is None and not key:
        console.print(
            "[red]accord chat: OPENAI_API_KEY is not set.[/red] Set it to chat with "
            "the real API, or use --sim for the built-in simulator (no key needed)."
        )
        raise typer.Exit(2)
    try:
        asyncio.run(_chat(console, url, sim, model, key))
    except AccordError as exc:
        console.print(f"[red]accord chat: {exc}[/red]")
        raise typer.Exit(1) from exc


async def _chat(console: Console, url: str | None, sim: bool, model: str, key: str | None) -> None:
    agent = make_agent()
    server = await SimServer().start() if sim else None
    try:
        target = server.url if server is not None else url
        # The real key goes only to the real API, never to the local simulator.
        api_key = "sk-local-simulator" if server is not None else key
        async with RealtimeSession.connect(
            target, api_key=api_key, model=model, session=agent.session_config()
        ) as session:
            runner = agent.start(session)
            printer = asyncio.ensure_future(_print(console, runner))
            console.print("connected; type a message (/quit to leave)")
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line or line.strip() in QUIT:
                    break
                if line.strip():
                    try:
                        await runner.say(line.strip())
                        await runner.wait_idle(TURN_TIMEOUT)
                    except (RealtimeError, OperationTimeout, TimeoutError) as exc:
                        # One failed turn is reported; the chat goes on.
                        console.print(f"[red]this turn failed: {exc}[/red]")
            printer.cancel()
            await runner.aclose()
    finally:
        if server is not None:
            await server.stop()


async def _print(console: Console, runner: object) -> None:
    async for event in runner.events():  # type: ignore[attr-defined]
        if isinstance(event, Transcript) and event.role == "assistant":
            console.print(f"[bold]assistant[/bold]: {event.text}", highlight=False)
        elif isinstance(event, ToolStarted):
            console.print(f"[dim]tool {event.name} running...[/dim]")
        elif isinstance(event, ToolFinished):
            console.print(f"[dim]tool {event.name} {'done' if event.ok else 'failed'}[/dim]")


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
