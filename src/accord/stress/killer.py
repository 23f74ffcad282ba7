"""``--kill-every``: workers SIGKILLed at random moments, their sessions resumed by others.

The parent owns the fleet of worker processes and the map of which worker owns which
session (the journal key ``config.journal_key(run, index)``). About every
``kill_every`` seconds of the timed phase (0.5x to 1.5x, drawn from ``--seed``) it
SIGKILLs a random worker that is running sessions, waits until the process is gone
(two processes must never write one key: docs/journal.md), starts a replacement with no
sessions (the fleet keeps its size, and the replacement takes sessions at later kills),
and hands each of the dead worker's sessions to the least loaded surviving worker. That
worker resumes the key with ``RealtimeSession.resume`` on its own simulator and plays
the session's turns to the end of the run. A worker killed while resuming loses nothing
more: the parent's map still names it the owner, so the key is handed on again (its
``generation`` counts the handovers).

Each worker has its own two pipes (orders down, reports up), not a shared queue: a
process killed in the middle of a write corrupts only its own pipe, which the parent
drops with it. At the end of the timed phase the parent says ``finish`` to every live
worker; each drains, judges the sessions it owns and sends them home. Only a session's
last owner judges it, against the server session it ended on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing as mp
import os
import random
import signal
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from accord.stress.config import StressConfig
from accord.stress.worker import Adopt, Durability, Hooks, Progress, WorkerResult, run_worker

READY_TIMEOUT = 300.0  # seconds the first workers may take to connect their sessions
RESULT_MARGIN = 600.0  # beyond the grace: drain, judging, closing
POLL_SECONDS = 0.1
KILL_SPREAD = (0.5, 1.5)  # a kill comes after kill_every times a draw from this range
RETRY_SECONDS = 0.5  # a kill put off (fewer than two workers running) is tried again


@dataclass
class KillCounts:
    """What the killing did: workers killed, sessions handed to another worker, and the
    turns the killed workers had finished (their outcomes died with them; the count is
    their last progress report, a quarter of a second old at most)."""

    killed: int = 0
    handovers: int = 0
    killed_turns: int = 0


@dataclass
class _Member:
    proc: Any
    orders: Connection  # parent -> worker
    reports: Connection | None  # worker -> parent (None once it is closed)
    ready: bool = False
    result: WorkerResult | None = None


@dataclass
class Fleet:
    """The worker processes, by number (a replacement gets a new one)."""

    config: StressConfig
    durability: Durability
    members: dict[int, _Member] = field(default_factory=dict)
    ctx: Any = field(default_factory=lambda: mp.get_context("spawn"))

    def start(self, share: range) -> int:
        worker = len(self.members)
        orders_out, orders_in = self.ctx.Pipe(duplex=False)
        reports_in, reports_out = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(
            target=adopting_worker_main,
            args=(self.config, worker, share, orders_out, reports_out),
            kwargs={"durability": self.durability},
            daemon=True,
        )
        proc.start()
        orders_out.close()  # the child's ends: the parent sees EOF when the child dies
        reports_out.close()
        self.members[worker] = _Member(proc, orders_in, reports_in)
        return worker

    def live(self) -> list[int]:
        return [w for w, m in self.members.items() if m.proc.is_alive()]

    def send(self, worker: int, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(OSError):  # a worker that died: its sessions are errors
            self.members[worker].orders.send(message)

    def kill(self, worker: int) -> None:
        member = self.members[worker]
        with contextlib.suppress(ProcessLookupError):
            os.kill(member.proc.pid, signal.SIGKILL)
        member.proc.join()  # gone before anyone else touches its keys
        self._close(member)

    def receive(self, timeout: float) -> list[tuple[str, int, Any]]:
        """The messages that came within ``timeout`` (a broken or closed pipe closes)."""
        open_pipes = {m.reports: m for m in self.members.values() if m.reports is not None}
        got: list[tuple[str, int, Any]] = []
        for pipe in wait(list(open_pipes), timeout):
            assert isinstance(pipe, Connection)
            member = open_pipes[pipe]
            try:
                got.append(pipe.recv())
            except (EOFError, OSError, ValueError, ImportError, AttributeError):
                self._close(member)  # died, possibly mid-message: nothing more from it
        return got

    def stop(self) -> None:
        for member in self.members.values():
            member.proc.join(timeout=5.0)
            if member.proc.is_alive():
                member.proc.terminate()
                member.proc.join(timeout=5.0)
            self._close(member)
            member.orders.close()

    @staticmethod
    def _close(member: _Member) -> None:
        if member.reports is not None:
            member.reports.close()
            member.reports = None


class Killer:
    """The parent's loop: start, go, kill and hand over, finish, collect."""

    def __init__(
        self, config: StressConfig, durability: Durability, sink: Any = lambda _p: None
    ) -> None:
        assert config.kill_every is not None
        self.config, self.every, self.sink = config, config.kill_every, sink
        self.fleet = Fleet(config, durability)
        self.rng = random.Random(config.seed)
        self.owner: dict[int, int] = {}
        self.generation: collections.Counter[int] = collections.Counter()
        self.counts = KillCounts()
        self.wall_start = 0.0
        self.turns: dict[int, int] = {}  # each worker's turns, as it last reported them

    def run(self) -> list[WorkerResult]:
        for share in self.config.shares():
            worker = self.fleet.start(share)
            self.owner.update(dict.fromkeys(share, worker))
        try:
            self._until(self._all_ready, time.monotonic() + READY_TIMEOUT)
            self.wall_start = time.time()
            for worker in self.fleet.live():
                self.fleet.send(worker, ("go", self.wall_start))
            self._timed_phase()
            for worker in self.fleet.live():
                self.fleet.send(worker, ("finish",))
            deadline = time.monotonic() + self.config.grace + RESULT_MARGIN
            self._until(self._all_in, deadline)
        finally:
            self.fleet.stop()
        return self._results()

    def _all_ready(self) -> bool:
        """Every first worker connected (or failed, or died): the timed phase may start."""
        return all(
            m.ready or m.result is not None or not m.proc.is_alive()
            for m in self.fleet.members.values()
        )

    def _timed_phase(self) -> None:
        stop = time.monotonic() + self.config.seconds
        next_kill = time.monotonic() + self._interval()
        while (now := time.monotonic()) < stop:
            if now >= next_kill:
                next_kill = now + (self._interval() if self._kill_one() else RETRY_SECONDS)
            self._pump(max(0.0, min(POLL_SECONDS, next_kill - now, stop - now)))

    def _interval(self) -> float:
        return self.every * self.rng.uniform(*KILL_SPREAD)

    def _kill_one(self) -> bool:
        """SIGKILL a random running worker that owns sessions and hand them over; False
        (put off) while fewer than two run: nobody would be left to take them."""
        running = [w for w in self.fleet.live() if self.fleet.members[w].ready]
        owning = [w for w in running if w in self.owner.values()]
        if len(running) < 2:
            return False
        victim = self.rng.choice(owning or running)
        self.fleet.kill(victim)
        self.sink(Progress(victim, "done", 0, 0, 0))  # its last word, for the display
        self.counts.killed += 1
        self.counts.killed_turns += self.turns.pop(victim, 0)
        replacement = self.fleet.start(range(0))
        self.fleet.send(replacement, ("go", self.wall_start))
        survivors = [w for w in running if w != victim]
        load = collections.Counter(self.owner.values())
        for index in sorted(i for i, w in self.owner.items() if w == victim):
            target = min(survivors, key=lambda w: (load[w], w))
            load[target] += 1
            self.owner[index] = target
            self.generation[index] += 1
            self.counts.handovers += 1
            self.fleet.send(target, ("adopt", index, self.generation[index]))
        return True

    def _pump(self, timeout: float) -> None:
        for kind, worker, payload in self.fleet.receive(timeout):
            member = self.fleet.members[worker]
            if kind == "ready":
                member.ready = True
            elif kind == "progress":
                self.turns[worker] = payload.turns
                self.sink(payload)
            elif kind == "result":
                member.result = payload

    def _until(self, done: Any, deadline: float) -> None:
        while not done() and time.monotonic() < deadline:
            self._pump(POLL_SECONDS)

    def _all_in(self) -> bool:
        return all(
            m.result is not None or not m.proc.is_alive() for m in self.fleet.members.values()
        )

    def _results(self) -> list[WorkerResult]:
        """Every live worker's result, keeping each session's outcome from its last owner
        only; a worker that died unbidden is reported (its sessions count as errors)."""
        results: list[WorkerResult] = []
        for worker, member in self.fleet.members.items():
            result = member.result
            if result is None:
                if member.proc.exitcode == -signal.SIGKILL and worker not in self.owner.values():
                    continue  # killed by us: its sessions live on elsewhere
                result = WorkerResult(
                    worker, error=f"worker died or timed out (exit {member.proc.exitcode})"
                )
            result.outcomes = [o for o in result.outcomes if self.owner.get(o.index) == worker]
            results.append(result)
        return results


def run_killing(
    config: StressConfig, durability: Durability, sink: Any = lambda _p: None
) -> tuple[list[WorkerResult], KillCounts]:
    """Run the stress test with workers killed along the way (``config.kill_every``)."""
    killer = Killer(config, durability, sink)
    return killer.run(), killer.counts


def adopting_worker_main(
    config: StressConfig,
    worker: int,
    share: range,
    orders: Connection,
    reports: Connection,
    *,
    durability: Durability,
) -> None:
    """A worker process of a killing run: its share, then what it is handed."""

    async def order() -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, orders.poll, POLL_SECONDS):
            pass
        message: tuple[Any, ...] = orders.recv()
        return message

    async def ready() -> float:
        reports.send(("ready", worker, None))
        go = await order()
        return max(0.0, time.time() - float(go[1]))

    async def adopt() -> Adopt | None:
        message = await order()
        if message[0] != "adopt":
            return None  # finish
        return int(message[1]), int(message[2])

    def progress(p: Progress) -> None:
        reports.send(("progress", worker, p))

    hooks = Hooks(progress, ready, adopt)
    try:
        result = asyncio.run(run_worker(config, worker, share, hooks, durability))
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        result = WorkerResult(worker, error=detail)
    reports.send(("result", worker, result))
