"""Many sessions in one client process: memory per idle session, and load when active.

For each size N, a fresh simulator runs in its own process (so its CPU is not the
client's) and this process opens N sessions, each an agent runner on a
:class:`RealtimeSession` holding a 100-item conversation pushed through
``update_chat_ctx``. Then:

1. **Memory**: ``tracemalloc`` runs from before the first connection to when every
   session is set up and quiet; per session = (traced bytes after - before) / N. It
   counts Python allocations (sockets' kernel buffers are not process memory).
2. **Idle**: a window with no traffic: server events/s and the client's CPU (what N
   idle sessions cost: keepalives and each session's 4 Hz engine tick).
3. **Active**: every session does a text turn every ``period`` seconds (starts spread
   evenly over the first period), every third turn naming the agent's tool so the
   simulator's model calls it and the runner answers it. Reported: server events/s
   received by the clients, turns completed against the turns scheduled, turn latency
   (from the user's message to the end of the reply that answers it) and the CPU of the
   client and simulator processes, in cores (1.0 = one core busy).
"""

from __future__ import annotations

import asyncio
import gc
import math
import resource
import statistics
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.bench import machine
from accord.bench.sessions_load import BenchSession, Tally
from accord.bench.simproc import SimProcess, raise_open_files, simulator_process
from accord.engine.engine import SyncEngine
from accord.sim.config import SimConfig
from accord.stress.worker import GC_THRESHOLDS

FULL_SIZES = (100, 1_000, 5_000)
QUICK_SIZES = (20,)
CONNECT_CONCURRENCY = 64  # sessions set up at once
EMPTY_SESSIONS = 50  # opened first, conversation-less, for the memory floor
SETTLE_JUDGE_S = 10.0  # after the window, for the sessions to be quiet before judging
SETTLE_S = 1.0  # after the last setup, before the memory is read


@dataclass(frozen=True)
class Durations:
    idle_s: float = 5.0
    active_s: float = 20.0
    period_s: float = 2.0
    grace_s: float = 10.0  # turns still running when the window closes may finish


QUICK = Durations(idle_s=1.0, active_s=4.0, period_s=2.0, grace_s=5.0)


@dataclass
class SessionsResult:
    sessions: int
    connected: int = 0
    setup_s: float = 0.0
    open_files_limit: int = 0
    bytes_per_idle_session: float | None = None
    #: The floor: the same session and runner with an empty conversation, measured the
    #: same way in the same run (``EMPTY_SESSIONS`` of them, before the N are opened).
    bytes_per_empty_session: float | None = None
    sim_rss_per_session: float | None = None  # the simulator's resident memory, for scale
    idle_events_per_s: float = 0.0
    idle_client_cpu: float = 0.0
    events_per_s: float = 0.0
    active_s: float = 0.0
    turns_scheduled: int = 0
    turns_started: int = 0
    turns_completed: int = 0
    tool_calls: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    client_cpu: float = 0.0
    sim_cpu: float | None = None
    other_cpu: float | None = None  # cores other processes on the machine used meanwhile
    gc_s: float = 0.0  # CPU seconds in the garbage collector during the active window
    gc_longest_ms: float = 0.0  # its longest single pause (wall time)
    gc_frozen: bool = False  # gc.freeze() after set-up (an option, off by default)
    #: After the window: sessions whose conversation (the engine's mirror, in order)
    #: differs from what the simulator holds for them, of those judged (quiet ones).
    desyncs: int | None = None
    judged: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why this size could not run, when it could not

    @property
    def client_ms_per_turn(self) -> float | None:
        """The client's CPU per completed turn in the active window: what one core can
        carry, whatever else the machine was doing (other load lowers throughput, not
        this)."""
        return _per_turn(self.client_cpu, self)

    @property
    def sim_ms_per_turn(self) -> float | None:
        return _per_turn(self.sim_cpu, self)

    @property
    def kib_per_idle_session(self) -> float | None:
        return None if self.bytes_per_idle_session is None else self.bytes_per_idle_session / 1024

    @property
    def idle_over_empty(self) -> float | None:
        """Memory of an idle session with its conversation, as a ratio to an empty one's."""
        full, empty = self.bytes_per_idle_session, self.bytes_per_empty_session
        return None if full is None or not empty else full / empty

    @property
    def gc_share(self) -> float | None:
        """The collector's share of the client's CPU in the active window."""
        cpu = self.client_cpu * self.active_s
        return self.gc_s / cpu if cpu > 0 else None


def _per_turn(cores: float | None, result: SessionsResult) -> float | None:
    if cores is None or not result.turns_completed:
        return None
    return cores * result.active_s / result.turns_completed * 1000


class GcClock:
    """Time this process spends in the cyclic garbage collector, while installed.

    With thousands of sessions the heap holds millions of long-lived objects, and a
    full collection walks them all: the pause shows in turn latency and its total in
    the client's CPU, so the benchmark reports both: CPU seconds (``time.process_time``:
    not inflated when other processes take the core) and the longest pause (wall time).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.longest = 0.0
        self._cpu = 0.0
        self._wall = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._cpu, self._wall = time.process_time(), time.perf_counter()
        else:
            self.seconds += time.process_time() - self._cpu
            self.longest = max(self.longest, time.perf_counter() - self._wall)

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


class _Window:
    """Frames, CPU (both processes) and collector time over a stretch of wall time."""

    def __init__(self, tally: Tally, sim: SimProcess, clock: GcClock) -> None:
        self._tally, self._sim, self._clock = tally, sim, clock
        self._start = time.perf_counter()
        self._frames = tally.frames
        self._cpu = _own_cpu()
        self._sim_cpu = sim.cpu_seconds()
        self._gc = clock.seconds
        self._clock.longest = 0.0
        self._busy = machine.busy_cpu_seconds()

    @property
    def gc_seconds(self) -> float:
        return self._clock.seconds - self._gc

    @property
    def gc_longest(self) -> float:
        return self._clock.longest

    def close(self) -> WindowStats:
        seconds = time.perf_counter() - self._start
        client = (_own_cpu() - self._cpu) / seconds
        sim = _rate(self._sim_cpu, self._sim.cpu_seconds(), seconds)
        busy = _rate(self._busy, machine.busy_cpu_seconds(), seconds)
        return WindowStats(
            seconds=seconds,
            events_per_s=(self._tally.frames - self._frames) / seconds,
            client_cores=client,
            sim_cores=sim,
            other_cores=None if busy is None else max(0.0, busy - client - (sim or 0.0)),
        )


@dataclass(frozen=True, slots=True)
class WindowStats:
    seconds: float
    events_per_s: float
    client_cores: float
    sim_cores: float | None
    other_cores: float | None  # CPU taken by everything else on the machine meanwhile


def _rate(before: float | None, after: float | None, seconds: float) -> float | None:
    return None if before is None or after is None else (after - before) / seconds


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _count(errors: dict[str, int], key: str) -> None:
    errors[key] = errors.get(key, 0) + 1


async def _empty_floor(url: str, n: int, result: SessionsResult) -> None:
    """Bytes per session of ``n`` sessions opened the same way with no conversation,
    closed again before the measured ones are opened."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        empty = await _open_all(url, n, Tally(), result, fill=False)
        await asyncio.sleep(SETTLE_S)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    await asyncio.gather(*(s.aclose() for s in empty), return_exceptions=True)
    if empty:
        result.bytes_per_empty_session = (after - before) / len(empty)


async def _open_all(
    url: str, n: int, tally: Tally, result: SessionsResult, *, fill: bool = True
) -> list[BenchSession]:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened: list[BenchSession] = []

    async def one(i: int) -> None:
        async with limit:
            try:
                bench = await BenchSession.open(url, tally, seed=i)
            except Exception as exc:
                _count(result.errors, f"connect: {type(exc).__name__}")
                return
            opened.append(bench)
            if not fill:
                return
            try:
                await bench.fill()
            except Exception as exc:
                _count(result.errors, f"fill: {type(exc).__name__}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return opened


async def _run_size(
    sim: SimProcess, n: int, durations: Durations, *, gc_freeze: bool
) -> SessionsResult:
    result = SessionsResult(sessions=n, open_files_limit=raise_open_files()[0], gc_frozen=gc_freeze)
    tally = Tally()
    loop = asyncio.get_running_loop()
    await _empty_floor(sim.url, min(n, EMPTY_SESSIONS), result)
    sim_rss_before = sim.rss_bytes()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    start = loop.time()
    sessions = await _open_all(sim.url, n, tally, result)
    result.setup_s = loop.time() - start
    result.connected = len(sessions)
    try:
        await asyncio.sleep(SETTLE_S)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        if sessions:
            result.bytes_per_idle_session = (after - before) / len(sessions)
            sim_rss = sim.rss_bytes()
            if sim_rss is not None and sim_rss_before is not None:
                result.sim_rss_per_session = (sim_rss - sim_rss_before) / len(sessions)
        thresholds = gc.get_threshold()
        if gc_freeze:
            gc.freeze()  # the set-up sessions leave the collector's generations
            gc.set_threshold(*GC_THRESHOLDS)  # and young garbage is collected less often
        with GcClock() as clock:
            window = _Window(tally, sim, clock)
            await asyncio.sleep(durations.idle_s)
            idle = window.close()
            result.idle_events_per_s, result.idle_client_cpu = idle.events_per_s, idle.client_cores
            await _active(sessions, durations, tally, result, _Window(tally, sim, clock))
        await _judge(sessions, sim, result)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await asyncio.gather(*(s.aclose() for s in sessions), return_exceptions=True)
        if gc_freeze:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
    return result


async def _active(
    sessions: list[BenchSession],
    durations: Durations,
    tally: Tally,
    result: SessionsResult,
    window: _Window,
) -> None:
    if not sessions:
        return
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    until = start + durations.active_s
    firsts = [start + durations.period_s * i / len(sessions) for i in range(len(sessions))]
    result.turns_scheduled = sum(
        math.ceil((until - first) / durations.period_s) for first in firsts
    )
    tool_calls_before = tally.tool_calls
    loops = [
        asyncio.ensure_future(s.turns(first, durations.period_s, until))
        for s, first in zip(sessions, firsts, strict=True)
    ]
    await asyncio.sleep(max(0.0, until - loop.time()))
    stats = window.close()
    result.active_s, result.events_per_s = stats.seconds, stats.events_per_s
    result.client_cpu, result.sim_cpu, result.other_cpu = (
        stats.client_cores,
        stats.sim_cores,
        stats.other_cores,
    )
    result.gc_s, result.gc_longest_ms = window.gc_seconds, window.gc_longest * 1000
    _, pending = await asyncio.wait(loops, timeout=durations.grace_s)
    for task in pending:
        task.cancel()
    if pending:
        result.errors["turn still running after the grace period"] = len(pending)
    latencies = sorted(x for s in sessions for x in s.latencies)
    result.turns_started = sum(s.started for s in sessions)
    result.turns_completed = len(latencies)
    result.tool_calls = tally.tool_calls - tool_calls_before
    if latencies:
        result.p50_ms = statistics.median(latencies) * 1000
        result.p99_ms = _percentile(latencies, 99) * 1000
        result.max_ms = latencies[-1] * 1000
    for kind, count in tally.turn_errors.items():
        result.errors[f"turn: {kind}"] = count
    if tally.server_errors:
        result.errors["server error events"] = tally.server_errors


async def _judge(sessions: list[BenchSession], sim: SimProcess, result: SessionsResult) -> None:
    """Compare each quiet session's conversation with the simulator's (waiting up to
    ``grace`` for the last replies to settle): a difference is a desync."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_JUDGE_S
    while loop.time() < deadline and not all(_quiet(s) for s in sessions):
        await asyncio.sleep(0.1)
    held = await asyncio.to_thread(sim.conversation_ids)
    result.desyncs = 0
    for bench in sessions:
        engine, server_id = bench.session.core.engine, bench.session.core.session_info.get("id")
        if not isinstance(engine, SyncEngine) or not engine.is_quiet() or server_id not in held:
            continue
        result.judged += 1
        if engine.mirror.ids() != held[server_id]:
            result.desyncs += 1


def _quiet(bench: BenchSession) -> bool:
    engine = bench.session.core.engine
    return isinstance(engine, SyncEngine) and engine.is_quiet()


def measure(
    sizes: Sequence[int] = FULL_SIZES,
    *,
    durations: Durations | None = None,
    gc_freeze: bool = False,
) -> list[SessionsResult]:
    """One result per size, each against a fresh simulator process. ``gc_freeze``:
    call ``gc.freeze()`` once the sessions are set up, so full collections no longer
    walk them (a deployment choice for processes holding many long-lived sessions)."""
    raise_open_files()
    out: list[SessionsResult] = []
    for n in sizes:
        with simulator_process(SimConfig()) as sim:
            try:
                out.append(
                    asyncio.run(_run_size(sim, n, durations or Durations(), gc_freeze=gc_freeze))
                )
            except OSError as exc:  # e.g. out of file descriptors: say so, do not fake
                out.append(SessionsResult(sessions=n, skipped=f"{type(exc).__name__}: {exc}"))
    return out
