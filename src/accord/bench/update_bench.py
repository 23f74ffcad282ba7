"""``update_chat_ctx`` latency against one simulator round trip.

The simulator runs in its own process (its own core), with ``latency_ms`` each way; the
round trip (RTT) is a ``session.update`` answered by ``session.updated``. Each push of
``n`` creates (then ``n`` deletes) is measured alone, after a short quiet, with no
response active; the result is the median over ``runs`` as a ratio of the RTT.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
from dataclasses import dataclass
from typing import Any

SETTLE_S = 0.2  # quiet before each push: the previous one's traffic has drained


@dataclass(frozen=True, slots=True)
class UpdateTiming:
    n: int
    kind: str  # "create" or "delete"
    median_ms: float
    rtt_ms: float

    @property
    def ratio(self) -> float:
        return self.median_ms / self.rtt_ms


def _serve(queue: Any, latency_ms: float) -> None:
    from accord.sim.channel import Transit
    from accord.sim.config import SimConfig
    from accord.sim.server import SimServer

    async def run() -> None:
        sim = SimServer(SimConfig(upstream=Transit(latency_ms), downstream=Transit(latency_ms)))
        await sim.start()
        queue.put(sim.url)
        await asyncio.Event().wait()

    asyncio.run(run())


async def _measure(url: str, sizes: tuple[int, ...], runs: int) -> list[UpdateTiming]:
    from accord.items import Message
    from accord.session import RealtimeSession

    async with RealtimeSession.connect(
        url, api_key="sk-bench", seed=1, session={"output_modalities": ["text"]}
    ) as session:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(SETTLE_S)
        rtts = []
        for _ in range(runs):
            start = loop.time()
            await session.update_instructions("benchmark")
            rtts.append(loop.time() - start)
        rtt = statistics.median(rtts) * 1000
        out: list[UpdateTiming] = []
        counter = 0
        for n in sizes:
            times: dict[str, list[float]] = {"create": [], "delete": []}
            for _ in range(runs):
                ctx = session.chat_ctx
                for _ in range(n):
                    counter += 1
                    ctx.append(Message(id=f"b{counter}", role="user", content=f"msg {counter}"))
                await asyncio.sleep(SETTLE_S)
                start = loop.time()
                await session.update_chat_ctx(ctx)
                times["create"].append(loop.time() - start)
                await asyncio.sleep(SETTLE_S)
                start = loop.time()
                await session.update_chat_ctx(session.chat_ctx.filter(lambda _item: False))
                times["delete"].append(loop.time() - start)
            out.extend(
                UpdateTiming(n, kind, statistics.median(t) * 1000, rtt) for kind, t in times.items()
            )
        return out


def measure(
    sizes: tuple[int, ...] = (1, 10, 200), *, latency_ms: float = 50.0, runs: int = 7
) -> list[UpdateTiming]:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(queue, latency_ms), daemon=True
    )
    server.start()
    try:
        return asyncio.run(_measure(queue.get(timeout=30), sizes, runs))
    finally:
        server.terminate()
        server.join(timeout=5)
