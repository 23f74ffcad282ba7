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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from accord.agent import Agent, AgentRunner, ContextEdited, RunnerStats, ToolFinished, ToolStarted
from accord.agent import Transcript as TranscriptEvent
from accord.client.errors import AccordError
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


def make_agent() -> Agent:
    return Agent(
        instructions="You are a concierge. Use the tools for weather and bookings.",
        tools=[get_weather, book_table],
        context_policy=[
            SummarizeOlder(keep_turns=1, trigger="tool_started"),
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


@dataclass
class DemoResult:
    stats: RunnerStats
    ops_sent: int
    resolved: int
    violations: list[Violation]
    mirror_matches: bool
    errors: list[str]
    lines: list[str] = field(default_factory=list)

    @property
    def desyncs(self) -> int:
        return len(self.violations) + (not self.mirror_matches) + len(self.errors)


OPENING = (
    "hello, I am planning an evening out",
    "I would like somewhere near the river",
    "my friends arrive at seven",
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
    async with SimServer(sim_config) as sim:
        strategy = strategy_named(config.strategy)
        options = SessionOptions(seed=config.seed, strategy=strategy, record=config.record)
        async with RealtimeSession.connect(
            sim.url, api_key="sk-demo-not-a-key", session=agent.session_config(), options=options
        ) as session:
            audit = Audit(lambda: sim.sessions[-1].store)
            audit.attach(session.core)
            runner = agent.start(session)
            lines: list[str] = []
            printer = asyncio.ensure_future(_narrate(runner, lines, on_line))
            stalls: list[str] = []
            for text, spoken in user_turns(config.turns, config.seed):
                try:
                    await _turn(runner, text, spoken, config.turn_timeout)
                except (AccordError, TimeoutError) as exc:
                    stalls.append(f"turn {text!r} stalled: {type(exc).__name__}: {exc}")
                    on_line(f"  !! {stalls[-1]}")
            with contextlib.suppress(TimeoutError):
                await runner.wait_idle(config.turn_timeout)
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
                [*runner.stats.server_errors, *stalls],
                lines,
            )
            if session.recorder is not None:  # the verdict a replay must reproduce
                findings = [str(v) for v in violations] + result.errors
                if not result.mirror_matches:
                    findings.append("the mirror differs from the simulator's store")
                session.recorder.verdict(desyncs=result.desyncs, findings=findings, server=store)
            return result


async def _turn(runner: AgentRunner, text: str, spoken: bool, timeout: float) -> None:
    if spoken:
        runner.speak(audio.synthesize(text) + audio.silence(700))
    else:
        await runner.say(text)
    await runner.wait_idle(timeout, settle=0.08)


async def _narrate(runner: AgentRunner, lines: list[str], on_line: Callable[[str], None]) -> None:
    async for event in runner.events():
        line: str | None = None
        if isinstance(event, TranscriptEvent):
            line = f"{event.role:>9}: {event.text}"
        elif isinstance(event, ToolStarted):
            line = f"     tool: {event.name} started ({event.call_id})"
        elif isinstance(event, ToolFinished):
            line = f"     tool: {event.name} {'returned' if event.ok else 'failed'}"
        elif isinstance(event, ContextEdited):
            line = _describe_edit(event)
        if line is not None:
            lines.append(line)
            on_line(line)


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
