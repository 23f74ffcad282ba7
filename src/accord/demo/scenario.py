"""The demo conversation: an agent with two tools and three context policies, on the
embedded simulator, with typed and spoken turns.

The policies are the callers that break other frameworks: a summarizer (an out-of-band
model call, so its snapshot is stale when it pushes) and a trimmer both fire the moment
a tool starts, while its call is in flight; a redactor rewrites tool outputs that carry
a card number. At the end the audit counts desyncs: any invariant the checker reports,
any difference between the client's mirror and the simulator's store, any unexpected
server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from accord.agent import Agent, AgentRunner, ContextEdited, RunnerStats, ToolFinished, ToolStarted
from accord.agent import Transcript as TranscriptEvent
from accord.demo.story import Moments, Story, first_desync
from accord.errors import AccordError
from accord.items import Item
from accord.policies import KeepLastTurns, RedactToolOutputs, SummarizeOlder
from accord.session import RealtimeSession, SessionOptions
from accord.sim import audio
from accord.sim.channel import Transit
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from accord.sim.session_config import SERVER_VAD
from accord.tools import function_tool
from accord.verify.audit import Audit
from accord.verify.checker import Violation
from accord.verify.strategies import strategy_named

CITIES = ("Paris", "Lisbon", "Oslo", "Kyoto", "Lima")
SLOW_TOOL_SECONDS = 0.25
# A summary by a real model takes a second or more; the simulator's scripted one takes a
# few milliseconds. The demo's summarizer answers after at least this long, so that, as
# with a real model, the user's next turn (and the call it starts) lands while the
# summary of the turns before it is still being written: race R2 on a call in flight.
SUMMARY_SECONDS = 0.6
TRANSCRIPT_WAIT_S = 2.0  # how long a spoken turn's line may wait for its transcript


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name
    """
    return f"{city}: 18C, light wind"


@function_tool(timeout=5.0)
async def book_table(people: int, time: str) -> dict[str, object]:
    """Book a restaurant table (slow: it calls the restaurant).

    Args:
        people: how many guests
        time: when, e.g. 20:00
    """
    await asyncio.sleep(SLOW_TOOL_SECONDS)
    return {"booked": True, "people": people, "time": time, "card": "4111 1111 1111 1111"}


def taking_at_least(
    seconds: float, summarize: Callable[[Sequence[Item]], Awaitable[str]]
) -> Callable[[Sequence[Item]], Awaitable[str]]:
    """``summarize``, answering no sooner than ``seconds`` after it was asked (see
    SUMMARY_SECONDS)."""

    async def summarizer(items: Sequence[Item]) -> str:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        text = await summarize(items)
        await asyncio.sleep(max(0.0, seconds - (loop.time() - asked)))
        return text

    return summarizer


def make_agent() -> Agent:
    return Agent(
        instructions="You are a concierge. Use the tools for weather and bookings.",
        tools=[get_weather, book_table],
        context_policy=[
            SummarizeOlder(keep_turns=1, trigger="turn"),
            KeepLastTurns(turns=2, trigger="tool_started"),
            RedactToolOutputs(),
        ],
        turn_detection=dict(SERVER_VAD),
    )


@dataclass(frozen=True)
class DemoConfig:
    turns: int = 20
    latency_ms: float = 20.0
    jitter_ms: float = 5.0
    seed: int = 0
    strategy: str = "accord"
    record: Path | None = None
    turn_timeout: float = 20.0
    # Stop at the first sign of a desync (a refusal, a request not carried out) and tell
    # its story; False plays every turn whatever happens.
    stop_at_first_desync: bool = True
    grace: float = 1.5  # after trouble, how long a turn may go on to show its cost
    # After the first refusal, turns go on until one costs the user a request (a
    # tool's result refused), at most this many: the story is told from that one.
    turns_after_trouble: int = 4


@dataclass
class DemoResult:
    stats: RunnerStats
    ops_sent: int
    resolved: int
    violations: list[Violation]
    mirror_matches: bool
    errors: list[str]
    lines: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)  # turns the client gave up waiting on
    story: Story | None = None
    turns_played: int = 0
    stopped_early: bool = False

    @property
    def desyncs(self) -> int:
        return len(self.violations) + (not self.mirror_matches) + len(self.errors)

    @property
    def failed(self) -> bool:
        return bool(self.desyncs or self.timeouts)


OPENING = (
    "hello, I am planning an evening out",
    "I would like somewhere near the river",
)


def user_turns(n: int, seed: int) -> list[tuple[str, bool]]:
    """(text, spoken) for each turn, every third turn spoken. Three turns of small talk,
    then a booking: its slow tool starts with four turns in the context, so the
    summarizer (reading the older turns out of band) and the trimmer (removing the
    oldest) race each other and the call, every seed. Random turns after that."""
    rng = random.Random(seed)
    turns: list[tuple[str, bool]] = []
    for i in range(n):
        if i < len(OPENING):
            turns.append((OPENING[i], i % 3 == 2))
            continue
        if i == len(OPENING):
            turns.append((f"please book a table for {rng.randint(2, 8)} at 20:00", False))
            continue
        pick = rng.random()
        if pick < 0.4:
            text = f"please book a table for {rng.randint(2, 8)} at 20:00"
        elif pick < 0.75:
            text = f"what is the weather in {rng.choice(CITIES)}?"
        else:
            text = "thanks, that sounds good"
        turns.append((text, i % 3 == 2))
    return turns


async def run_demo(
    config: DemoConfig, on_line: Callable[[str], None] = lambda _l: None
) -> DemoResult:
    sim_config = SimConfig(
        upstream=Transit(config.latency_ms, config.jitter_ms, config.seed),
        downstream=Transit(config.latency_ms, config.jitter_ms, config.seed + 1),
        seed=config.seed,
        transcription_delay_ms=40.0,
    )
    agent = make_agent()
    loop = asyncio.get_running_loop()
    started = loop.time()
    moments = Moments(lambda: loop.time() - started)
    async with SimServer(sim_config) as sim:
        strategy = strategy_named(config.strategy)
        options = SessionOptions(seed=config.seed, strategy=strategy, record=config.record)
        async with RealtimeSession.connect(
            sim.url, api_key="sk-demo-not-a-key", session=agent.session_config(), options=options
        ) as session:
            audit = Audit(lambda: sim.sessions[-1].store)
            audit.attach(session.core)
            runner = agent.start(session)
            for policy in agent.policies:
                if isinstance(policy, SummarizeOlder):
                    policy.summarizer = taking_at_least(
                        SUMMARY_SECONDS, runner.summarize_out_of_band
                    )
            lines: list[str] = []
            narrator = Narrator(lines, on_line, moments)
            printer = asyncio.ensure_future(narrator.run(runner))
            stalls: list[str] = []
            played = 0
            trouble_at: int | None = None
            for text, spoken in user_turns(config.turns, config.seed):
                if trouble_at is None and moments.first_trouble is not None:
                    trouble_at = played
                if config.stop_at_first_desync and _enough(moments, trouble_at, played, config):
                    break
                played += 1
                if spoken:
                    narrator.spoke()
                try:
                    await _turn(runner, text, spoken, config, moments)
                except (AccordError, TimeoutError) as exc:
                    stalls.append(f"turn {text!r}: the client timed out ({exc})")
                    on_line(f"  !! {stalls[-1]}")
                await narrator.turn_over()
            stopped = config.stop_at_first_desync and played < config.turns
            with contextlib.suppress(TimeoutError):
                await runner.wait_idle(config.grace if stopped else config.turn_timeout)
            mirror = session.core.engine.mirror_items()
            store = sim.sessions[-1].store.items()
            violations = audit.violations(mirror)
            await runner.aclose()
            printer.cancel()
            result = DemoResult(
                runner.stats,
                audit.ops_sent,
                audit.resolved,
                violations,
                _same(mirror, store),
                list(runner.stats.server_errors),
                lines,
                timeouts=stalls,
                story=first_desync(violations, moments.seen, sim.sessions[-1].store, audit.log),
                turns_played=played,
                stopped_early=stopped,
            )
            if session.recorder is not None:  # the verdict a replay must reproduce
                findings = [str(v) for v in violations] + result.errors + stalls
                if not result.mirror_matches:
                    findings.append("the mirror differs from the simulator's store")
                session.recorder.verdict(desyncs=result.desyncs, findings=findings, server=store)
            return result


def _enough(moments: Moments, trouble_at: int | None, played: int, config: DemoConfig) -> bool:
    """Whether the run has shown its first desync: a request lost, or enough turns since
    the first refusal."""
    if moments.first_cost is not None:
        return True
    return trouble_at is not None and played - trouble_at >= config.turns_after_trouble


async def _turn(
    runner: AgentRunner, text: str, spoken: bool, config: DemoConfig, moments: Moments
) -> None:
    """One user turn, until the agent is idle; once trouble was seen, a turn waits at
    most ``grace`` (the naive strategy leaves operations that never resolve, and a turn
    that waited for them would wait out its whole timeout)."""
    if spoken:
        runner.speak(audio.synthesize(text) + audio.silence(700))
    else:
        await runner.say(text)
    idle = asyncio.ensure_future(runner.wait_idle(config.turn_timeout, settle=0.08, policies=False))
    try:
        while not idle.done():
            if moments.first_trouble is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(idle), config.grace)
                return
            await asyncio.wait({idle}, timeout=0.02)
        idle.result()
    finally:
        idle.cancel()


@dataclass
class Narrator:
    """Prints the run as a conversation: each event a line, except that what follows a
    spoken turn (its tools, its reply) waits for the user's transcript (the server
    transcribes beside the response, and the transcript often lands after the reply),
    so every user line comes before its reply."""

    lines: list[str]
    on_line: Callable[[str], None]
    moments: Moments
    speech_pending: int = 0
    held: list[str] = field(default_factory=list)

    def spoke(self) -> None:
        self.speech_pending += 1

    async def turn_over(self, timeout: float = TRANSCRIPT_WAIT_S) -> None:
        """A turn ended: its user transcript may still be on its way (the agent is idle
        before the server has transcribed); wait for it a little, then show what is
        held, transcript or not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.speech_pending and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self.speech_pending = 0
        self._flush()

    async def run(self, runner: AgentRunner) -> None:
        async for event in runner.events():
            self.moments.add(event)
            line = _line_of(event)
            if line is None:
                continue
            if isinstance(event, TranscriptEvent) and event.role == "user" and self.speech_pending:
                self.speech_pending -= 1
                self._emit(line)
                self._flush()
            elif self.speech_pending:
                self.held.append(line)
            else:
                self._emit(line)

    def _flush(self) -> None:
        held, self.held = self.held, []
        for line in held:
            self._emit(line)

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        self.on_line(line)


def _line_of(event: object) -> str | None:
    if isinstance(event, TranscriptEvent):
        return f"{event.role:>9}: {event.text}"
    if isinstance(event, ToolStarted):
        return f"     tool: {event.name} started ({event.call_id})"
    if isinstance(event, ToolFinished):
        return f"     tool: {event.name} {'returned' if event.ok else 'failed'}"
    if isinstance(event, ContextEdited):
        return _describe_edit(event)
    return None


def _describe_edit(event: ContextEdited) -> str:
    report = event.report
    parts = [f"  context: {event.policy} pushed {len(report.sent)} op(s)"]
    if report.deferred:
        parts.append(f", {len(report.deferred)} deferred")
    if report.aliased:
        parts.append(f", {len(report.aliased)} aliased")
    if event.calls_in_flight:
        parts.append(f" while {event.calls_in_flight} call(s) in flight")
    return "".join(parts)


def _same(mirror: Sequence[object], store: Sequence[object]) -> bool:
    return mirror == store
