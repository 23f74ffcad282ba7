"""`accord stress`: many concurrent full-stack sessions against the simulator.

A thin shell: the options become a :class:`~accord.stress.StressConfig`, the run is
:func:`~accord.stress.run_stress`, and the report is printed as a table (or JSON). Exit
status 1 on any desync, lost item, call without exactly one output, duplicate reply or
session that could not be judged; 2 on bad options.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

from accord.journal import JournalError, open_journal
from accord.stress import StressConfig, run_stress
from accord.stress.config import POLICY_MIXES, STRATEGIES, PolicyMix, Strategy
from accord.stress.progress import run_with_progress
from accord.stress.report import render


def stress(
    sessions: int = typer.Option(100, "--sessions", help="Concurrent sessions."),
    seconds: float = typer.Option(10.0, "--seconds", help="How long to run (the timed phase)."),
    strategy: str = typer.Option("accord", "--strategy", help="accord or naive."),
    workers: int = typer.Option(
        1, "--workers", help="Processes, each with its own simulator and share of sessions."
    ),
    audio: bool = typer.Option(False, "--audio", help="Spoken user turns (server VAD)."),
    seed: int = typer.Option(0, "--seed", help="Seed of scripts, ids, jitter and drops."),
    latency_ms: float = typer.Option(20.0, "--latency-ms", help="Simulated latency each way."),
    jitter_ms: float = typer.Option(10.0, "--jitter-ms", help="+/- jitter on the latency."),
    disconnect_fraction: float = typer.Option(
        0.01, "--disconnect-fraction", help="Sessions dropped once mid-run (rounded up)."
    ),
    push_every: int = typer.Option(3, "--push-every", help="A policy push every N replies."),
    think_ms: float = typer.Option(
        0.0, "--think-ms", help="User pause between turns (0: as fast as the stack goes)."
    ),
    policy: str = typer.Option("mixed", "--policy", help="mixed, keep, summarize or redact."),
    grace: float = typer.Option(30.0, "--grace", help="Seconds for running turns to finish."),
    gc_tuning: bool = typer.Option(
        True, "--gc-tuning/--no-gc-tuning", help="Freeze set-up objects out of GC scans."
    ),
    server_errors: float = typer.Option(
        0.0,
        "--server-errors",
        help="Share of creates, tool outputs, deletes and response.create the simulator "
        "refuses with server_error (0..1).",
    ),
    truncation: str | None = typer.Option(
        None,
        "--truncation",
        help="The session's truncation: auto, disabled or a retention ratio (0..1); "
        "unset: the server's default.",
    ),
    post_instructions: int | None = typer.Option(
        None, "--post-instructions", help="Token limit of a retention ratio's truncation."
    ),
    journal: str | None = typer.Option(
        None,
        "--journal",
        help="Journal every session in this store (sqlite:///x.db, redis://host:port/0).",
    ),
    kill_every: float | None = typer.Option(
        None,
        "--kill-every",
        help="SIGKILL a random worker about every S seconds; the others resume its "
        "sessions from the journal (needs --journal and --workers 2 or more).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON only."),
) -> None:
    """Run sessions concurrently and check each against the simulator's store."""
    console = Console(stderr=as_json)
    if strategy not in STRATEGIES or policy not in POLICY_MIXES:
        console.print(
            f"[red]accord stress: strategy must be one of {', '.join(STRATEGIES)} and policy "
            f"one of {', '.join(POLICY_MIXES)}[/red]"
        )
        raise typer.Exit(2)
    try:
        config = StressConfig(
            sessions=sessions,
            seconds=seconds,
            strategy=_strategy(strategy),
            workers=workers,
            audio=audio,
            seed=seed,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            disconnect_fraction=disconnect_fraction,
            push_every=push_every,
            think_ms=think_ms,
            policy=_policy(policy),
            grace=grace,
            gc_tuning=gc_tuning,
            server_errors=server_errors,
            truncation=_truncation(truncation),
            post_instructions=post_instructions,
            journal=journal,
            kill_every=kill_every,
        )
    except ValueError as exc:
        console.print(f"[red]accord stress: {exc}[/red]")
        raise typer.Exit(2) from exc
    if config.journal is not None:
        try:  # a bad URL or an unreachable store is an option error, not 200 failures
            open_journal(config.journal).close()
        except JournalError as exc:
            console.print(f"[red]accord stress: --journal: {exc}[/red]")
            raise typer.Exit(2) from exc
    try:
        if as_json or not sys.stderr.isatty():
            report = run_stress(config)
        else:
            report = run_with_progress(config, console)
    except KeyboardInterrupt:
        console.print("[red]accord stress: interrupted[/red]")
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        render(report, console)
    if not report.passed:
        raise typer.Exit(1)


def _strategy(name: str) -> Strategy:
    return "naive" if name == "naive" else "accord"


def _policy(name: str) -> PolicyMix:
    for mix in POLICY_MIXES:
        if mix == name:
            return mix
    return "mixed"


def register(app: typer.Typer) -> None:
    app.command("stress")(stress)


def _truncation(value: str | None) -> str | float | None:
    """``auto`` and ``disabled`` as they are; a number is a retention ratio."""
    if value is None or value in ("auto", "disabled"):
        return value
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"truncation must be auto, disabled or a ratio: {value!r}") from None
