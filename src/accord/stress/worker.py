"""One worker: a simulator and a share of the sessions on one event loop.

Why the simulator runs inside each worker rather than in a process of its own: the
checker orders client decisions against server transitions by the store's transition
counter at the moment of each decision (``verify/log.py``), which only a judge on the
same loop as the store can read; a simulator in another process could only be asked
afterwards, with every push, operation and tool report placed on its clock by guesswork.
So each worker is a self-contained slice of the system: clients and their server on one
loop, talking over real loopback websockets (every frame encoded, sent through the
kernel, parsed). The throughput it measures is for client and simulator together on the
same cores, a lower bound for the client alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from accord.journal import JournalStore, open_journal
from accord.sim.channel import Transit
from accord.sim.config import ServerErrorFaults, SimConfig
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from accord.stress.config import StressConfig
from accord.stress.outcome import Phase, SessionOutcome
from accord.stress.server_side import ServerSide
from accord.stress.session_run import MODEL_PREFIX, StressSession, model_name
from accord.stress.workload import SessionPlan, SpeechBank, plan_sessions

PROGRESS_SECONDS = 0.25  # how often a worker reports its counts
# With --gc-tuning: the young generation is collected every this many net allocations
# (CPython's default is 700); the older two keep their ratios' spirit.
GC_THRESHOLDS = (50_000, 20, 100)
MAX_WARNING_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Progress:
    """A worker's counts so far, for a progress display."""

    worker: int
    stage: str  # connecting, running, draining, judging, done
    connected: int
    turns: int
    judged: int


@dataclass
class WorkerResult:
    """What one worker sends home (picklable)."""

    worker: int
    outcomes: list[SessionOutcome] = field(default_factory=list)
    timed_seconds: float = 0.0  # the timed phase as this worker ran it
    # Rates are taken over the timed phase alone: turns finished and server events
    # delivered between its start and its end (turns finishing in the grace period
    # count in the sessions' totals, not in the rates).
    phase_turns: int = 0
    phase_events: int = 0
    connect_seconds: float = 0.0
    drain_seconds: float = 0.0  # from the end of the timed phase until all were quiet
    judge_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time over the timed phase and drain
    gc_seconds: float = 0.0  # CPU time in the garbage collector over the timed phase and drain
    warnings: int = 0  # accord's log records at WARNING and above, counted, not printed
    warning_samples: list[str] = field(default_factory=list)
    error: str | None = None  # the worker itself failed (its sessions are errors)


# What the parent tells a worker that takes over sessions (--kill-every): resume session
# ``index``, handed over for the ``generation``-th time; None: nothing more will come.
Adopt = tuple[int, int]


@dataclass
class Hooks:
    """How a worker talks to whoever runs it: progress, the start signal (workers in
    several processes connect first, then start their timed phases together; it returns
    how far into the timed phase the run already is, for a worker started late), and,
    with --kill-every, the sessions handed to it to resume."""

    progress: Callable[[Progress], None] = lambda _p: None
    ready: Callable[[], Awaitable[float]] | None = None
    adopt: Callable[[], Awaitable[Adopt | None]] | None = None


@dataclass(frozen=True)
class Durability:
    """A journaled run (--journal): ``run`` makes its keys unique to it;
    ``resume_reader`` is a seam for tests only, what a resume reads the journal through
    (a test breaks it there, and the judge, which reads the journal itself, must catch
    it). Picklable: a worker process receives it."""

    run: str
    resume_reader: Callable[[JournalStore], JournalStore] | None = None


def sim_config(config: StressConfig) -> SimConfig:
    return SimConfig(
        upstream=Transit(config.latency_ms, config.jitter_ms, config.seed),
        downstream=Transit(config.latency_ms, config.jitter_ms, config.seed + 1),
        seed=config.seed,
        transcription_delay_ms=config.transcription_delay_ms,
        keep_sent_events=False,
        server_errors=ServerErrorFaults(rate=config.server_errors),
    )


class _CountingHandler(logging.Handler):
    """Counts accord's warnings instead of printing them: a thousand sessions each
    logging a policy cancelled by its drop would bury the report (the samples and the
    count are in it)."""

    def __init__(self, result: WorkerResult) -> None:
        super().__init__(logging.WARNING)
        self.result = result

    def emit(self, record: logging.LogRecord) -> None:
        self.result.warnings += 1
        if len(self.result.warning_samples) < MAX_WARNING_SAMPLES:
            self.result.warning_samples.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def gc_tuned(enabled: bool) -> Iterator[None]:
    """A thousand sessions hold about half a million objects after connecting, and
    CPython's collector rescans them all on each full collection: measured on 1000
    sessions, 8 s of 23 s of CPU went to the collector, with pauses up to 0.6 s that stop
    every session at once. A server process does what this does once it has started:
    freeze what exists (sockets, sessions, tools, schemas live as long as the process)
    and collect the young generation less often. The previous settings are restored."""
    if not enabled:
        yield
        return
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@contextlib.contextmanager
def gc_clock(result: WorkerResult) -> Iterator[None]:
    """Adds the CPU time spent in the garbage collector to ``result.gc_seconds``."""
    started = [0.0]

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            result.gc_seconds += time.process_time() - started[0]

    gc.callbacks.append(on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(on_gc)


@contextlib.contextmanager
def _counting_warnings(result: WorkerResult) -> Iterator[None]:
    logger = logging.getLogger("accord")
    handler = _CountingHandler(result)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class Worker:
    def __init__(
        self,
        config: StressConfig,
        worker: int,
        indices: range,
        hooks: Hooks,
        durability: Durability | None = None,
    ) -> None:
        self.config = config
        self.hooks = hooks
        self.result = WorkerResult(worker)
        self.all_plans = plan_sessions(config)
        self.plans: list[SessionPlan] = [self.all_plans[i] for i in indices]
        self.servers = {model_name(p.index): ServerSide() for p in self.plans}
        self.sessions: list[StressSession] = []
        self.durability = durability or Durability("local")
        # One store for the worker's sessions (a connection each would be hundreds).
        self.journal = open_journal(config.journal) if config.journal else None
        self.bank: SpeechBank | None = None
        self.url = ""
        self._runs: list[asyncio.Future[None]] = []
        # A kill hands many sessions over at once (a third of them in the docs' runs):
        # their resumes (a journal read, a whole conversation restored) go through the
        # handshake gate.
        self._resume_gate = asyncio.Semaphore(config.connect_concurrency)
        self.stage = "connecting"
        self.connected = 0
        self.turns = 0
        self.judged = 0

    def _register(self, sim_session: SimSession) -> None:
        """The simulator's new session finds its client by the model it was dialled with."""
        model = str(sim_session.session.get("model") or "")
        side = self.servers.get(model) if model.startswith(MODEL_PREFIX) else None
        if side is not None:
            side.add(sim_session)

    def _turned(self) -> None:
        self.turns += 1

    def _report(self) -> None:
        self.hooks.progress(
            Progress(self.result.worker, self.stage, self.connected, self.turns, self.judged)
        )

    async def _reporter(self) -> None:
        while True:
            self._report()
            await asyncio.sleep(PROGRESS_SECONDS)

    async def run(self) -> WorkerResult:
        reporter = asyncio.ensure_future(self._reporter())
        self.bank = SpeechBank() if self.config.audio else None
        self.sessions = sessions = [self._session(p) for p in self.plans]
        try:
            with _counting_warnings(self.result):
                await self._serve(sessions)
        finally:
            if self.journal is not None:
                self.journal.close()
            self.stage = "done"
            self._report()
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        return self.result

    def _session(self, plan: SessionPlan, generation: int = 0) -> StressSession:
        key = None
        if self.journal is not None:
            key = self.config.journal_key(self.durability.run, plan.index)
        side = self.servers[model_name(plan.index)]
        return StressSession(
            plan,
            self.config,
            side,
            self.bank,
            self._turned,
            journal=self.journal,
            key=key,
            generation=generation,
        )

    async def _serve(self, sessions: list[StressSession]) -> None:
        """Connect, run the timed phase, then judge and close each session in turn."""
        loop = asyncio.get_running_loop()
        async with SimServer(sim_config(self.config), on_session=self._register) as sim:
            self.url = sim.url
            began = loop.time()
            await self._connect_all(sessions, sim.url)
            self.result.connect_seconds = loop.time() - began
            with gc_tuned(self.config.gc_tuning):
                elapsed = 0.0
                if self.hooks.ready is not None:
                    self.stage = "waiting"
                    elapsed = await self.hooks.ready()
                with gc_clock(self.result):
                    await self._timed(loop, elapsed)
                self.stage = "judging"
                began = loop.time()
                for session in sessions:
                    self.result.outcomes.append(await session.finish())
                    self.judged += 1
                self.result.judge_seconds = loop.time() - began

    async def _connect_all(self, sessions: list[StressSession], url: str) -> None:
        gate = asyncio.Semaphore(self.config.connect_concurrency)

        async def connect(session: StressSession) -> None:
            async with gate:
                try:
                    await session.connect(url)
                except Exception as exc:  # counted: the session is an error, not the run
                    session.outcome.error = f"could not connect: {type(exc).__name__}: {exc}"
                    return
                self.connected += 1

        await asyncio.gather(*(connect(s) for s in sessions))

    async def _timed(self, loop: asyncio.AbstractEventLoop, elapsed: float) -> None:
        """The timed phase (already ``elapsed`` seconds old for a worker started late),
        then the drain; sessions handed over meanwhile join in."""
        config = self.config
        here = loop.time()
        start = here - elapsed
        phase = Phase(start, start + config.seconds, start + config.seconds + config.grace)
        events_before = self._events()
        cpu_before = time.process_time()
        self.stage = "running"
        self._runs = [asyncio.ensure_future(s.run(phase)) for s in self.sessions]
        adopting = None
        if self.hooks.adopt is not None:
            adopting = asyncio.ensure_future(self._adopt_all(self.hooks.adopt, phase))
        await asyncio.sleep(max(0.0, phase.stop - loop.time()))
        self.result.timed_seconds = loop.time() - here
        self.result.phase_turns = self.turns
        self.result.phase_events = self._events() - events_before
        self.stage = "draining"
        if adopting is not None:
            await adopting  # until the parent says no more sessions will come
        done = 0
        while done < len(self._runs):  # a session adopted while draining joins the drain
            await asyncio.gather(*self._runs[done:])
            done = len(self._runs)
        self.result.cpu_seconds = time.process_time() - cpu_before
        self.result.drain_seconds = max(0.0, loop.time() - phase.stop)

    async def _adopt_all(self, adopt: Callable[[], Awaitable[Adopt | None]], phase: Phase) -> None:
        """Resume every session handed over, each on its own, until told it is over."""
        while (handed := await adopt()) is not None:
            self._runs.append(asyncio.ensure_future(self._adopt_one(*handed, phase)))

    async def _adopt_one(self, index: int, generation: int, phase: Phase) -> None:
        """Resume session ``index`` here and play its turns to the end of the run."""
        plan = self.all_plans[index]
        self.servers[model_name(index)] = ServerSide()
        session = self._session(plan, generation)
        self.sessions.append(session)
        reader = self.journal
        if reader is not None and self.durability.resume_reader is not None:
            reader = self.durability.resume_reader(reader)
        try:
            async with self._resume_gate:
                await session.resume(self.url, reader)
        except Exception as exc:  # counted: the session is an error, not the run
            session.outcome.error = f"could not resume: {type(exc).__name__}: {exc}"
            return
        await session.run(phase)

    def _events(self) -> int:
        return sum(side.events() for side in self.servers.values())


async def run_worker(
    config: StressConfig,
    worker: int,
    indices: range,
    hooks: Hooks | None = None,
    durability: Durability | None = None,
) -> WorkerResult:
    """Run one worker's share of the sessions on the current loop."""
    return await Worker(config, worker, indices, hooks or Hooks(), durability).run()
