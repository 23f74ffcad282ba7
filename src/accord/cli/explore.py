"""`accord explore`: exhaustive interleaving exploration over engine + store.

With no options it explores every scenario of the library (one per race of
docs/races.md) with accord's strategy: every schedule up to ``--depth`` choices, then
``--seeds`` random schedules, the checker judging each. A violation is shrunk, printed as
a timeline and written as a file that ``--replay`` plays again. Exit status 1 on any
violation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord.explore.explorer import (
    Counterexample,
    Exploration,
    deepen,
    explore_random,
    shrink,
)
from accord.explore.explorer import (
    explore as explore_scenario,
)
from accord.explore.findings import Finding
from accord.explore.library import SCENARIOS, select
from accord.explore.run import ScheduleError, play
from accord.explore.scenario import Scenario
from accord.explore.timeline import ScheduleFile, format_timeline
from accord.timeline.render import write
from accord.timeline.schedule import from_schedule
from accord.verify.strategies import STRATEGIES

EXIT_VIOLATION = 1
EXIT_USAGE = 2


@dataclass
class _Found:
    scenario: Scenario
    exploration: Exploration
    shrunk: Counterexample
    path: Path


def explore(
    strategy: str = typer.Option("accord", "--strategy", help="accord or naive."),
    depth: int = typer.Option(8, "--depth", help="Every schedule up to this many choices."),
    seeds: int = typer.Option(100, "--seeds", help="Random schedules per scenario after that."),
    scenario: str | None = typer.Option(
        None, "--scenario", help="Comma-separated names (r1,r7); default: all."
    ),
    out: Path = typer.Option(
        Path("explore-violations"), "--out", help="Where violating schedules are written."
    ),
    replay: Path | None = typer.Option(None, "--replay", help="Play a written schedule again."),
    deepen_seconds: float | None = typer.Option(
        None,
        "--deepen",
        help="Instead of one depth: deepen each scenario until this many seconds are spent.",
    ),
    no_hashing: bool = typer.Option(False, "--no-hashing", help="Explore without state hashing."),
    show: int = typer.Option(1, "--show", help="Timelines to print (the rest go to files)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    list_only: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a timeline page per shrunk violation in this folder."
    ),
) -> None:
    """Enumerate interleavings of the race scenarios and check every schedule."""
    console = Console(stderr=as_json)
    if strategy not in STRATEGIES:
        raise typer.BadParameter("accord or naive", param_hint="--strategy")
    if list_only:
        _list(console)
        return
    if replay is not None:
        raise typer.Exit(_replay(console, replay))
    try:
        chosen = select(scenario)
    except KeyError as exc:
        console.print(f"accord explore: {exc.args[0]}")
        raise typer.Exit(EXIT_USAGE) from None
    if deepen_seconds is not None:
        deepened = _deepen(console, chosen, strategy, deepen_seconds, as_json)
        if _report_violations(console, deepened, strategy, out, show, as_json, html):
            raise typer.Exit(EXIT_VIOLATION)
        return
    results = _run(console, chosen, strategy, depth, seeds, not no_hashing, as_json)
    found = _report_violations(console, results, strategy, out, show, as_json, html)
    if as_json:
        typer.echo(json.dumps(_as_json(results, found)))
    else:
        console.print(_table(results, strategy, depth, seeds))
    if found:
        raise typer.Exit(EXIT_VIOLATION)


def _run(
    console: Console,
    chosen: list[Scenario],
    strategy: str,
    depth: int,
    seeds: int,
    hashing: bool,
    quiet: bool,
) -> list[tuple[Scenario, Exploration]]:
    results: list[tuple[Scenario, Exploration]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} scenarios"),
        TextColumn("{task.fields[schedules]:,} schedules"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("exploring", total=len(chosen), schedules=0)
        total = 0

        def tick(r: Exploration) -> None:
            if r.schedules % 50 == 0:
                progress.update(task, schedules=total + r.schedules)

        for sc in chosen:
            progress.update(task, description=f"exploring {sc.name}")
            if depth > 0:
                r = explore_scenario(sc, strategy, depth=depth, hashing=hashing, on_schedule=tick)
                results.append((sc, r))
                total += r.schedules
            if seeds > 0:
                r = explore_random(sc, strategy, seeds=range(seeds), on_schedule=tick)
                results.append((sc, r))
                total += r.schedules
            progress.update(task, advance=1, schedules=total)
    return results


def _report_violations(
    console: Console,
    results: list[tuple[Scenario, Exploration]],
    strategy: str,
    out: Path,
    show: int,
    quiet: bool,
    html: Path | None = None,
) -> list[_Found]:
    found: list[_Found] = []
    reported: set[str] = set()
    for sc, r in results:
        if r.first is None or sc.name in reported:
            continue
        reported.add(sc.name)
        shrunk = shrink(sc, strategy, r.first)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{sc.name}-{strategy}.json"
        findings = [str(f) for f in shrunk.findings]
        ScheduleFile(sc.name, strategy, 0, shrunk.choices, findings).save(path)
        found.append(_Found(sc, r, shrunk, path))
        if html is not None:
            page = _page(sc, strategy, shrunk.choices, html)
            if not quiet:
                console.print(f"timeline page: {page}", markup=False, highlight=False)
        if quiet:
            continue
        console.print(
            f"[bold red]{sc.race}[/]: {r.violating} of {r.schedules} {r.mode} schedules "
            f"violate ({', '.join(sorted(r.kinds))}); shrunk to {len(shrunk.choices)} steps, "
            f"written to {path}"
        )
        if len(found) <= show:
            _print_timeline(console, sc, strategy, shrunk.choices)
    return found


def _page(sc: Scenario, strategy: str, choices: list[str], folder: Path) -> Path:
    """The shrunk schedule's timeline page, written to ``folder``."""
    run, findings = play(sc, strategy, choices, record=True)
    title = f"{sc.race} ({strategy}): {sc.summary}"
    timeline = from_schedule(title, strategy, run.timeline or [], findings)
    return write(timeline, folder / f"{sc.name}-{strategy}.html")


def _print_timeline(
    console: Console, sc: Scenario, strategy: str, choices: list[str], *, strict: bool = False
) -> list[Finding]:
    run, findings = play(sc, strategy, choices, record=True, lenient=not strict)
    console.print(f"[bold]{sc.race}[/] ({strategy}): {sc.summary}")
    seeded = " ".join(item.id for item in sc.seed)
    console.print(f"    seeded: [{seeded}]", markup=False, highlight=False)
    for line in format_timeline(run.timeline or []):
        console.print(line, markup=False, highlight=False)
    for f in findings:
        console.print(f"    {f}", style="red", markup=False, highlight=False)
    if not findings:
        console.print("    [green]no violation[/]")
    return findings


def _replay(console: Console, path: Path) -> int:
    try:
        saved = ScheduleFile.load(path)
    except (OSError, ValueError, KeyError) as exc:
        console.print(f"accord explore: cannot replay {path}: {exc}", soft_wrap=True)
        return EXIT_USAGE
    sc = SCENARIOS.get(saved.scenario)
    if sc is None:
        console.print(
            f"accord explore: {path} names an unknown scenario {saved.scenario!r}", soft_wrap=True
        )
        return EXIT_USAGE
    try:
        found = _print_timeline(console, sc, saved.strategy, saved.choices, strict=True)
    except ScheduleError as exc:
        console.print(
            f"accord explore: {path} does not fit scenario {sc.name}: {exc}", soft_wrap=True
        )
        return EXIT_USAGE
    if [str(f) for f in found] != saved.findings:
        console.print("the findings differ from those the file recorded:", style="yellow")
        for line in saved.findings:
            console.print(f"    recorded: {line}", markup=False, highlight=False)
    return EXIT_VIOLATION if found else 0


def _deepen(
    console: Console, chosen: list[Scenario], strategy: str, seconds: float, as_json: bool
) -> list[tuple[Scenario, Exploration]]:
    rows = []
    explored: list[tuple[Scenario, Exploration]] = []
    for sc in chosen:
        if not as_json:
            console.print(f"deepening {sc.name} for {seconds:.0f} s ...")
        d = deepen(sc, strategy, seconds=seconds)
        last = d.last
        if last is not None:
            explored.append((sc, last))
        rows.append(
            {
                "scenario": sc.name,
                "depth": d.depth,
                "exhausted": d.exhausted,
                "schedules": 0 if last is None else last.schedules,
                "states": 0 if last is None else last.states,
                "violating": 0 if last is None else last.violating,
                "seconds": 0.0 if last is None else round(last.seconds, 2),
            }
        )
    if as_json:
        typer.echo(json.dumps({"strategy": strategy, "budget_seconds": seconds, "rows": rows}))
        return explored
    table = Table(title=f"depth reached in {seconds:.0f} s per scenario ({strategy})")
    for column in ("scenario", "depth", "whole space", "schedules", "states", "violating", "s"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["scenario"]),
            str(row["depth"]),
            "yes" if row["exhausted"] else "no",
            f"{row['schedules']:,}",
            f"{row['states']:,}",
            str(row["violating"]),
            f"{row['seconds']}",
        )
    console.print(table)
    return explored


def _table(
    results: list[tuple[Scenario, Exploration]], strategy: str, depth: int, seeds: int
) -> Table:
    table = Table(title=f"accord explore: {strategy}, depth {depth}, {seeds} random seeds")
    columns = ("scenario", "mode", "schedules", "states", "pruned", "violations", "time")
    for column in columns:
        table.add_column(column, justify="right")
    totals = [0, 0, 0, 0, 0.0]
    for sc, r in results:
        mark = f"[red]{r.violating}[/]" if r.violating else "0"
        table.add_row(
            sc.name,
            r.mode,
            f"{r.schedules:,}",
            f"{r.states:,}",
            f"{r.pruned:,}",
            mark,
            f"{r.seconds:.2f} s",
        )
        totals[0] += r.schedules
        totals[1] += r.states
        totals[2] += r.pruned
        totals[3] += r.violating
        totals[4] += r.seconds
    table.add_section()
    table.add_row(
        "all",
        "",
        f"{int(totals[0]):,}",
        f"{int(totals[1]):,}",
        f"{int(totals[2]):,}",
        str(int(totals[3])),
        f"{totals[4]:.2f} s",
    )
    return table


def _as_json(results: list[tuple[Scenario, Exploration]], found: list[_Found]) -> dict[str, object]:
    return {
        "results": [
            {
                "scenario": sc.name,
                "strategy": r.strategy,
                "mode": r.mode,
                "depth": r.depth,
                "schedules": r.schedules,
                "states": r.states,
                "pruned": r.pruned,
                "violating": r.violating,
                "kinds": sorted(r.kinds),
                "seconds": round(r.seconds, 3),
            }
            for sc, r in results
        ],
        "violations": [
            {
                "scenario": f.scenario.name,
                "file": str(f.path),
                "steps": len(f.shrunk.choices),
                "findings": [str(x) for x in f.shrunk.findings],
            }
            for f in found
        ],
    }


def _list(console: Console) -> None:
    table = Table(title="scenario library (docs/races.md)")
    for column in ("name", "race", "what happens", "naive fails"):
        table.add_column(column)
    for sc in SCENARIOS.values():
        table.add_row(sc.name, sc.race, sc.summary, "yes" if sc.naive_fails else "no")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("explore")(explore)
