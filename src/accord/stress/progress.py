"""A live view of a stress run: a bar over the timed phase and the workers' counts.

The workers report their stage and counts a few times a second (in-process, or over the
parent's queue); this folds them into one line: the earliest stage any worker is in,
sessions connected, turns done, sessions judged.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from accord.stress.config import StressConfig
from accord.stress.report import StressReport
from accord.stress.runner import run_stress
from accord.stress.worker import Progress as WorkerProgress

STAGES = ("connecting", "waiting", "running", "draining", "judging")


def run_with_progress(config: StressConfig, console: Console) -> StressReport:
    """The run with a progress bar over the timed phase, and the workers' counts."""
    counts: dict[int, WorkerProgress] = {}
    running_since: list[float] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("connecting", total=config.seconds, detail="")

        def on_progress(p: WorkerProgress) -> None:
            counts[p.worker] = p
            stages = {c.stage for c in counts.values()}
            if running_since:  # a replacement for a killed worker starts up meanwhile
                stages -= {"connecting", "waiting"}
            stage = next((s for s in STAGES if s in stages), "done")
            connected = sum(c.connected for c in counts.values())
            turns = sum(c.turns for c in counts.values())
            judged = sum(c.judged for c in counts.values())
            detail = f"{connected}/{config.sessions} connected, {turns} turns"
            if judged:
                detail += f", {judged} judged"
            if stage == "running" and not running_since:
                running_since.append(time.monotonic())
            done = min(config.seconds, time.monotonic() - running_since[0]) if running_since else 0
            if stage in ("draining", "judging", "done"):
                done = config.seconds  # the timed phase is over
            bar.update(task, description=stage, detail=detail, completed=done)

        return run_stress(config, on_progress)
