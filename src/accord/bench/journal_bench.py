"""The journal's overhead per turn: time in the writer and bytes appended, per store.

Runs tool turns (a question, the model's call, the tool, its output, the reply) through
a journaled :class:`~accord.session.RealtimeSession` and an agent against the embedded
simulator, and reports per turn: the time spent writing the journal (computing what
changed and the store's appends, both inside the session's step, before its frames are
sent), the store round trips, the records and their bytes, and the process's CPU per
turn beside the same turns without a journal. The last turns are reported apart: the
writer's diff walks the projected conversation, which grows with each turn.

    python -m accord.bench.journal_bench [--turns 50] [--redis redis://127.0.0.1:6379/0]

See docs/benchmarks.md ("The journal's overhead").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from accord.agent import Agent
from accord.journal import JournalStore, Record, StoreWrapper, open_journal
from accord.journal.records import encode
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from accord.tools import function_tool

QUESTION = "what's the weather in Paris?"
TAIL_TURNS = 10  # the last turns, reported apart
IDLE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class JournalCost:
    store: str
    turns: int
    us_per_turn: float  # time in the writer per turn, appends included
    us_store_per_turn: float  # of which in the store's appends
    us_per_turn_last: float  # the same over the last TAIL_TURNS turns
    appends_per_turn: float
    records_per_turn: float
    bytes_per_turn: float
    us_per_append: float
    cpu_us_per_turn: float  # the whole process (client and simulator), per turn


async def baseline(turns: int) -> float:
    """CPU per turn of the same turns without a journal (client and simulator)."""
    agent = Agent(instructions="You help.", tools=[get_weather])
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(sim.url, api_key="sk-bench", session=agent.session_config()) as s,
    ):
        runner = agent.start(s)
        started = time.process_time()
        for _ in range(turns):
            await runner.say(QUESTION)
            await runner.wait_idle(IDLE_TIMEOUT_S)
        cpu = time.process_time() - started
        await runner.aclose()
    return cpu / turns * 1e6


class Timed(StoreWrapper):
    """A store that counts the time its appends take."""

    def __init__(self, inner: JournalStore) -> None:
        super().__init__(inner)
        self.elapsed = 0.0

    def append(self, key: str, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        self.inner.append(key, records)
        self.elapsed += time.perf_counter() - started


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return json.dumps({"city": city, "temp": 18})


async def measure(store_url: str, label: str, turns: int) -> JournalCost:
    agent = Agent(instructions="You help.", tools=[get_weather])
    store = Timed(open_journal(store_url))
    key = uuid.uuid4().hex
    per_turn: list[float] = []
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-bench", session=agent.session_config(), journal=store, key=key
        ) as session,
    ):
        assert session._journal is not None  # the bench reads the writer's counters
        writer = session._journal.writer
        runner = agent.start(session)
        await runner.wait_idle(IDLE_TIMEOUT_S)
        start_appends, start_store = writer.appends, store.elapsed
        cpu_started = time.process_time()
        for _ in range(turns):
            before = writer.elapsed
            await runner.say(QUESTION)
            await runner.wait_idle(IDLE_TIMEOUT_S)
            per_turn.append(writer.elapsed - before)
        cpu = time.process_time() - cpu_started
        await runner.aclose()
        appends = writer.appends - start_appends
        in_store = store.elapsed - start_store
    records = store.load(key)
    size = sum(len(encode(r).encode("utf-8")) for r in records)
    store.delete(key)
    store.close()
    total = sum(per_turn)
    tail = per_turn[-TAIL_TURNS:]
    return JournalCost(
        store=label,
        turns=turns,
        us_per_turn=total / turns * 1e6,
        us_store_per_turn=in_store / turns * 1e6,
        us_per_turn_last=sum(tail) / len(tail) * 1e6,
        appends_per_turn=appends / turns,
        records_per_turn=len(records) / turns,
        bytes_per_turn=size / turns,
        us_per_append=total / max(appends, 1) * 1e6,
        cpu_us_per_turn=cpu / turns * 1e6,
    )


async def run(turns: int, redis_url: str | None) -> list[JournalCost]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        results.append(await measure(url, "sqlite (WAL, synchronous=NORMAL)", turns))
    if redis_url is not None:
        results.append(await measure(redis_url, "redis (loopback)", turns))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--redis", default=None, help="a redis:// URL to measure too")
    args = parser.parse_args()
    for cost in asyncio.run(run(args.turns, args.redis)):
        print(json.dumps(asdict(cost)))
    cpu = asyncio.run(baseline(args.turns))
    print(json.dumps({"store": "none", "turns": args.turns, "cpu_us_per_turn": cpu}))


if __name__ == "__main__":
    main()
