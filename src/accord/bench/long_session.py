"""One long session: does the client's state grow with the turns, or with the conversation?

Why this is measured (issue 20): a session that runs for hours must hold what its live
conversation needs, not a record of every turn it ever had. One session (a real
:class:`~accord.session.RealtimeSession` with an :class:`~accord.agent.Agent` runner,
the engine and the client core as an application runs them) talks to the simulator in
another process, so only the client's memory is counted. Every turn names a tool, so it
has a call, its output and a follow-up; :class:`~accord.policies.KeepLastTurns` keeps
the conversation to a few turns. After a warm-up, every ``sample_every`` turns the
collector runs and the number of objects it tracks (``len(gc.get_objects())``) and the
memory tracemalloc counts are sampled; the least-squares slope over the samples is the
growth per turn. A second run with :class:`~accord.policies.SummarizeOlder` reports the
conversation's length over the turns: bounded when summaries are merged.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from accord.agent import Agent
from accord.bench.report import Report
from accord.bench.simproc import simulator_process
from accord.policies import ContextPolicy, KeepLastTurns, SummarizeOlder
from accord.session import RealtimeSession, SessionOptions
from accord.sim.config import SimConfig
from accord.tools import function_tool

POLICIES = ("keep-last-turns", "summarize-older")
CITIES = ("Paris", "Oslo", "Lima", "Quito", "Cairo", "Hanoi", "Dakar")


@function_tool
def get_weather(city: str) -> str:
    """Current weather.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


@dataclass(frozen=True, slots=True)
class Sample:
    turn: int
    objects: int  # objects the collector tracks
    traced: int  # bytes tracemalloc counts now
    items: int  # the conversation's length (the client's view)


@dataclass
class LongRun:
    policy: str
    turns: int
    warmup: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def bytes_per_turn(self) -> float:
        return slope([(s.turn, s.traced) for s in self.samples])

    @property
    def objects_per_turn(self) -> float:
        return slope([(s.turn, s.objects) for s in self.samples])

    @property
    def items_per_turn(self) -> float:
        return slope([(s.turn, s.items) for s in self.samples])

    @property
    def max_items(self) -> int:
        return max((s.items for s in self.samples), default=0)


def slope(points: Sequence[tuple[int, int]]) -> float:
    """Least-squares slope of ``points``: the growth per turn, robust to the noise of
    one sample (a dict resized, a freelist filled) that a first-to-last difference is
    not."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var if var else 0.0


def _policy(name: str) -> ContextPolicy:
    if name == "keep-last-turns":
        return KeepLastTurns(turns=4)
    if name == "summarize-older":
        return SummarizeOlder(keep_turns=2)
    raise ValueError(f"unknown policy {name!r}: one of {', '.join(POLICIES)}")


async def run_session(
    url: str, policy: str, turns: int, *, warmup: int, sample_every: int
) -> LongRun:
    """``turns`` typed turns, each calling a tool, in one session with ``policy``."""
    agent = Agent(
        instructions="Answer about the weather.",
        tools=[get_weather],
        context_policy=_policy(policy),
    )
    run = LongRun(policy, turns, warmup, 0.0)
    started = time.perf_counter()
    async with RealtimeSession.connect(
        url,
        api_key="sk-test-not-a-key",
        session=agent.session_config(),
        options=SessionOptions(seed=7),
    ) as session:
        runner = agent.start(session)
        # An application reads the runner's events; unread, they would pile up in its
        # queue and be counted as the session's growth.
        reader = asyncio.ensure_future(_drain(runner.events()))
        try:
            for n in range(turns):
                city = CITIES[n % len(CITIES)]
                await runner.say(f"Turn {n}: the weather in {city}, please.")
                await runner.wait_idle(30.0)
                done = n + 1
                if done >= warmup and (done - warmup) % sample_every == 0:
                    gc.collect()
                    run.samples.append(
                        Sample(
                            done,
                            len(gc.get_objects()),
                            tracemalloc.get_traced_memory()[0],
                            len(session.chat_ctx),
                        )
                    )
        finally:
            await runner.aclose()
            await reader
    run.seconds = time.perf_counter() - started
    return run


async def _drain(events: AsyncIterator[object]) -> None:
    async for _event in events:
        pass


def measure(
    turns: int, *, warmup: int, sample_every: int, policies: Sequence[str]
) -> list[LongRun]:
    """Each policy's session in turn, with tracemalloc on for the client process only."""
    runs: list[LongRun] = []
    with simulator_process(SimConfig(keep_sent_events=False)) as sim:
        for policy in policies:
            tracemalloc.start()
            try:
                runs.append(
                    asyncio.run(
                        run_session(
                            sim.url, policy, turns, warmup=warmup, sample_every=sample_every
                        )
                    )
                )
            finally:
                tracemalloc.stop()
    return runs


def report(runs: Sequence[LongRun]) -> Report:
    results: list[dict[str, Any]] = []
    table = Table(title="long-session: growth per turn after the warm-up")
    for column in (
        "policy",
        "turns",
        "warm-up",
        "bytes/turn",
        "objects/turn",
        "items/turn",
        "items (max)",
        "s",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for r in runs:
        results.append(
            {
                "policy": r.policy,
                "turns": r.turns,
                "warmup": r.warmup,
                "seconds": round(r.seconds, 2),
                "bytes_per_turn": round(r.bytes_per_turn, 2),
                "objects_per_turn": round(r.objects_per_turn, 4),
                "items_per_turn": round(r.items_per_turn, 4),
                "max_items": r.max_items,
                "samples": [
                    {"turn": s.turn, "objects": s.objects, "traced": s.traced, "items": s.items}
                    for s in r.samples
                ],
            }
        )
        table.add_row(
            r.policy,
            f"{r.turns:,}",
            f"{r.warmup:,}",
            f"{r.bytes_per_turn:,.1f}",
            f"{r.objects_per_turn:,.3f}",
            f"{r.items_per_turn:,.3f}",
            f"{r.max_items:,}",
            f"{r.seconds:,.1f}",
        )
    notes = [
        "slopes are least-squares fits over the samples after the warm-up; the client "
        "process only (the simulator runs in another)"
    ]
    return Report("long-session", results, tables=[table], notes=notes)
