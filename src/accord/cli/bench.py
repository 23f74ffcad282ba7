"""`accord bench`: reproducible measurements, reported as tables or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from accord.bench.diff_bench import time_diff
from accord.bench.engine_bench import WORKLOADS, measure
from accord.bench.update_bench import measure as update_measure

bench_app = typer.Typer(help="Benchmarks (see docs/benchmarks.md).", no_args_is_help=True)

DEFAULT_SIZES = "100,1000,2000,5000,10000,100000"


@bench_app.command("diff")
def diff(
    sizes: str = typer.Option(DEFAULT_SIZES, "--sizes", help="Comma-separated item counts."),
    repeat: int = typer.Option(5, "--repeat", help="Runs per size; the best is reported."),
    seed: int = typer.Option(0, "--seed", help="Seed of the edit generator."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes only (for the test suite)."),
) -> None:
    """compute_diff on the edit generator's cases (half deleted, n/20 new, n/50 edited)."""
    ns = [100, 1000] if quick else [int(s) for s in sizes.split(",") if s.strip()]
    results = [time_diff(n, repeat=repeat, seed=seed) for n in ns]
    if as_json:
        typer.echo(json.dumps({"benchmark": "diff", "results": [asdict(r) for r in results]}))
        return
    table = Table(title=f"compute_diff, best of {repeat}")
    for column in ("n", "best ms", "removed", "created", "updated"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(str(r.n), f"{r.best_ms:.3f}", str(r.removed), str(r.created), str(r.updated))
    Console().print(table)


@bench_app.command("engine")
def engine(
    events: int = typer.Option(20_000, "--events", help="Events per workload."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    quick: bool = typer.Option(False, "--quick", help="A small run (for the test suite)."),
) -> None:
    """Server events per second through codec + engine on one core: text deltas, audio
    deltas (4 KiB payloads) and item events."""
    n = 500 if quick else events
    rates = [measure(name, n, repeat=1 if quick else 3) for name in WORKLOADS]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "benchmark": "engine",
                    "results": [
                        {
                            "workload": r.workload,
                            "events": r.events,
                            "seconds": r.seconds,
                            "per_second": r.per_second,
                        }
                        for r in rates
                    ],
                }
            )
        )
        return
    table = Table(title="server events per second (one core)")
    for column in ("workload", "events", "events/s"):
        table.add_column(column, justify="right")
    for r in rates:
        table.add_row(r.workload, str(r.events), f"{r.per_second:,.0f}")
    Console().print(table)


@bench_app.command("update")
def update(
    latency_ms: float = typer.Option(50.0, "--latency-ms", help="Simulated latency each way."),
    runs: int = typer.Option(7, "--runs", help="Pushes per size (median reported)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    quick: bool = typer.Option(False, "--quick", help="A small run (for the test suite)."),
) -> None:
    """update_chat_ctx latency for 1, 10 and 200 operations against one round trip."""
    sizes = (1, 10) if quick else (1, 10, 200)
    timings = update_measure(
        sizes, latency_ms=5.0 if quick else latency_ms, runs=2 if quick else runs
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "benchmark": "update",
                    "results": [
                        {
                            "n": t.n,
                            "kind": t.kind,
                            "median_ms": t.median_ms,
                            "rtt_ms": t.rtt_ms,
                            "ratio": t.ratio,
                        }
                        for t in timings
                    ],
                }
            )
        )
        return
    table = Table(title=f"update_chat_ctx vs one round trip ({timings[0].rtt_ms:.1f} ms)")
    for column in ("operations", "kind", "median ms", "x RTT"):
        table.add_column(column, justify="right")
    for t in timings:
        table.add_row(str(t.n), t.kind, f"{t.median_ms:.1f}", f"{t.ratio:.2f}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
