"""Running the workers: in this process for one, in spawned processes for several.

One worker runs on the caller's thread (no process start-up, and a test or a profiler
sees everything). Several run as ``spawn`` processes, each with its own event loop,
simulator and share of the sessions: they connect, say they are ready, and start their
timed phases together when the parent says go; their progress and results come home on
one queue. A worker that fails or dies is reported (its sessions count as errors), never
a crash of the run, and the parent never waits on a dead worker.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import time
import traceback
import uuid
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from typing import Any

from accord.journal import JournalStore
from accord.stress.config import StressConfig
from accord.stress.killer import run_killing
from accord.stress.report import StressReport, build_report
from accord.stress.worker import Durability, Hooks, Progress, WorkerResult, run_worker

READY_TIMEOUT = 300.0  # seconds a worker may take to connect its sessions
RESULT_MARGIN = 600.0  # beyond the timed phase and grace: drain, judging, closing
POLL_SECONDS = 0.2

ProgressSink = Callable[[Progress], None]


def run_stress(
    config: StressConfig,
    progress: ProgressSink | None = None,
    *,
    resume_reader: Callable[[JournalStore], JournalStore] | None = None,
) -> StressReport:
    """Run the stress test described by ``config`` and return its report.

    ``resume_reader`` is for tests only: what a resume reads the journal through (a
    picklable function of the store), so a test can break resumes and see them caught."""
    sink = progress or (lambda _p: None)
    shares = config.shares()
    durability = Durability(uuid.uuid4().hex[:12], resume_reader)
    if config.kill_every is not None:
        results, counts = run_killing(config, durability, sink)
        return build_report(config, results, counts)
    if len(shares) == 1:
        hooks = Hooks(progress=sink)
        result = asyncio.run(run_worker(config, 0, shares[0], hooks, durability))
        return build_report(config, [result])
    return build_report(config, _run_processes(config, shares, sink, durability))


def _run_processes(
    config: StressConfig, shares: list[range], sink: ProgressSink, durability: Durability
) -> list[WorkerResult]:
    ctx = mp.get_context("spawn")
    inbox: Any = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(
            target=worker_main,
            args=(config, w, share, inbox, go),
            kwargs={"durability": durability},
            daemon=True,
        )
        for w, share in enumerate(shares)
    ]
    for proc in procs:
        proc.start()
    results: dict[int, WorkerResult] = {}
    ready: set[int] = set()
    started = time.monotonic()
    deadline = started + READY_TIMEOUT
    try:
        while len(results) < len(procs):
            if not go.is_set() and len(ready | set(results)) == len(procs):
                go.set()  # every worker connected (or failed): start the timed phases
                deadline = time.monotonic() + config.seconds + config.grace + RESULT_MARGIN
            try:
                message = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if time.monotonic() > deadline or _all_gone(procs, results):
                    break
                continue
            kind, worker, payload = message
            if kind == "ready":
                ready.add(worker)
            elif kind == "progress":
                sink(payload)
            elif kind == "result":
                results[worker] = payload
    finally:
        go.set()
        for proc in procs:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
    for w, proc in enumerate(procs):
        if w not in results:
            results[w] = WorkerResult(w, error=f"worker died or timed out (exit {proc.exitcode})")
    return [results[w] for w in sorted(results)]


def _all_gone(procs: list[Any], results: dict[int, WorkerResult]) -> bool:
    """Every worker without a result has exited: nothing more will come."""
    return all(not proc.is_alive() for w, proc in enumerate(procs) if w not in results)


def worker_main(
    config: StressConfig,
    worker: int,
    share: range,
    inbox: Any,
    go: EventType,
    *,
    durability: Durability | None = None,
) -> None:
    """A worker process: run the share, send progress and the result home."""

    def progress(p: Progress) -> None:
        inbox.put(("progress", worker, p))

    async def ready() -> float:
        inbox.put(("ready", worker, None))
        loop = asyncio.get_running_loop()
        while not go.is_set():  # the parent's go, without blocking this loop
            await loop.run_in_executor(None, go.wait, POLL_SECONDS)
        return 0.0

    try:
        hooks = Hooks(progress, ready)
        result = asyncio.run(run_worker(config, worker, share, hooks, durability))
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        result = WorkerResult(worker, error=detail)
    inbox.put(("result", worker, result))
