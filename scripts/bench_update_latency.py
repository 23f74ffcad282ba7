"""update_chat_ctx latency against one simulator round trip (the session issue's target).

The simulator runs in its own process at 50 ms latency each way; the client measures a
``session.update`` round trip (the RTT), then pushes of 1, 10 and 200 creates and
deletes with no response active, and prints each median as a ratio of the RTT
(target: at most 1.2). Run: ``.venv/bin/python scripts/bench_update_latency.py``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
from typing import Any

LATENCY_MS = 50.0
SIZES = (1, 10, 200)
RUNS = 7
SETTLE_S = 0.2  # quiet time before each push (the previous one's traffic has drained)


def serve(queue: Any) -> None:
    from accord.sim.channel import Transit
    from accord.sim.config import SimConfig
    from accord.sim.server import SimServer

    async def run() -> None:
        sim = SimServer(SimConfig(upstream=Transit(LATENCY_MS), downstream=Transit(LATENCY_MS)))
        await sim.start()
        queue.put(sim.url)
        await asyncio.Event().wait()

    asyncio.run(run())


async def measure(url: str) -> None:
    from accord.items import Message
    from accord.session import RealtimeSession

    async with RealtimeSession.connect(
        url, api_key="sk-bench", seed=1, session={"output_modalities": ["text"]}
    ) as session:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.3)
        rtts = []
        for _ in range(RUNS):
            start = loop.time()
            await session.update_instructions("benchmark")
            rtts.append(loop.time() - start)
        rtt = statistics.median(rtts)
        print(f"round trip (session.update): median {rtt * 1000:.1f} ms")
        counter = 0
        for n in SIZES:
            creates, deletes = [], []
            for _ in range(RUNS):
                ctx = session.chat_ctx
                for _ in range(n):
                    counter += 1
                    ctx.append(Message(id=f"b{counter}", role="user", content=f"msg {counter}"))
                await asyncio.sleep(SETTLE_S)  # each push measured alone, as in an agent
                start = loop.time()
                await session.update_chat_ctx(ctx)
                creates.append(loop.time() - start)
                await asyncio.sleep(SETTLE_S)
                start = loop.time()
                await session.update_chat_ctx(session.chat_ctx.filter(lambda _item: False))
                deletes.append(loop.time() - start)
            for kind, times in (("create", creates), ("delete", deletes)):
                median = statistics.median(times)
                print(
                    f"n={n:>4} {kind}: median {median * 1000:6.1f} ms  "
                    f"ratio {median / rtt:.2f} x RTT"
                )


def main() -> None:
    queue: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    server.start()
    try:
        asyncio.run(measure(queue.get(timeout=20)))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
