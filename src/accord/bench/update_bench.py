"""``update_chat_ctx`` latency against one simulator round trip, with and without a
response streaming.

The simulator runs in its own process (its own core), with ``latency_ms`` each way; the
round trip (RTT) is a ``session.update`` answered by ``session.updated``, measured with
nothing else going on. Each push inserts ``n`` messages after the conversation's first
message (then deletes them) and is timed alone:

- ``idle``: no response active, after a short quiet (the previous push's traffic has
  drained);
- ``responding``: a long text response is streaming for the whole push (started just
  before it, cancelled after). The messages go in the middle of the conversation, before
  the response's item, as a context policy's edit would: a delete at the tail would be
  deferred until the response ends, by design (race R6), and time nothing.

The result is the median over ``runs`` as a ratio of the RTT; each row also says how
many deletes were deferred and whether the response really was active throughout.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord.bench.simproc import simulator_process
from accord.sim.channel import Transit
from accord.sim.config import SimConfig

if TYPE_CHECKING:
    from accord.session import RealtimeSession

SETTLE_S = 0.2  # quiet before each idle push
FULL_SIZES = (1, 10, 50, 200, 500)
QUICK_SIZES = (1, 10)
MODES = ("idle", "responding")
# The responding mode's response: an echo of this message, one 12-character delta every
# STREAM_PAUSE_MS, lasts ~2 s: longer than any push measured here.
LONG_MESSAGE = "Please keep talking while the context changes. " * 50
STREAM_PAUSE_MS = 10.0
ANCHOR = "anchor"  # the first message; pushes insert after it


@dataclass(frozen=True, slots=True)
class UpdateTiming:
    n: int
    kind: str  # "create" or "delete"
    median_ms: float
    rtt_ms: float
    mode: str = "idle"  # "idle" (no response active) or "responding"
    deferred: int = 0  # deletes the engine deferred, over all runs
    active_runs: int = 0  # runs during which the response stayed active (responding)
    runs: int = 0

    @property
    def ratio(self) -> float:
        return self.median_ms / self.rtt_ms


@dataclass
class _Samples:
    times: dict[str, list[float]] = field(default_factory=lambda: {"create": [], "delete": []})
    deferred: int = 0
    active: int = 0


async def _push_pair(
    session: RealtimeSession, n: int, first: int, samples: _Samples, *, settle: float
) -> None:
    """Insert ``n`` messages after the first message, then delete them; time each push."""
    from accord.items import Message

    loop = asyncio.get_running_loop()
    ctx = session.chat_ctx
    previous = ANCHOR
    for k in range(first, first + n):
        ctx.insert_after(previous, Message(id=f"b{k}", role="user", content=f"msg {k}"))
        previous = f"b{k}"
    await asyncio.sleep(settle)
    start = loop.time()
    await session.update_chat_ctx(ctx)
    samples.times["create"].append(loop.time() - start)
    await asyncio.sleep(settle)
    start = loop.time()
    report = await session.update_chat_ctx(
        session.chat_ctx.filter(lambda item: not item.id.startswith("b"))
    )
    samples.times["delete"].append(loop.time() - start)
    samples.deferred += len(report.deferred)


async def _measure(
    url: str, sizes: Sequence[int], runs: int, modes: Sequence[str]
) -> list[UpdateTiming]:
    from accord.items import Message
    from accord.session import RealtimeSession

    async with RealtimeSession.connect(
        url, api_key="sk-bench", seed=1, session={"output_modalities": ["text"]}
    ) as session:
        loop = asyncio.get_running_loop()
        ctx = session.chat_ctx
        ctx.append(Message(id=ANCHOR, role="user", content=LONG_MESSAGE))
        await session.update_chat_ctx(ctx)
        await asyncio.sleep(SETTLE_S)
        rtts = []
        for _ in range(runs):
            start = loop.time()
            await session.update_instructions("benchmark")
            rtts.append(loop.time() - start)
        rtt = statistics.median(rtts) * 1000
        out: list[UpdateTiming] = []
        counter = 0
        for mode in modes:
            for n in sizes:
                samples = _Samples()
                for _ in range(runs):
                    if mode == "idle":
                        await _push_pair(session, n, counter, samples, settle=SETTLE_S)
                    else:
                        generation = await session.generate_reply()
                        await _push_pair(session, n, counter, samples, settle=0.0)
                        samples.active += generation.status is None
                        session.interrupt()
                        await generation.wait()
                        await asyncio.sleep(SETTLE_S)
                    counter += n
                out.extend(
                    UpdateTiming(
                        n,
                        kind,
                        statistics.median(t) * 1000,
                        rtt,
                        mode=mode,
                        deferred=samples.deferred if kind == "delete" else 0,
                        active_runs=samples.active if mode == "responding" else 0,
                        runs=runs,
                    )
                    for kind, t in samples.times.items()
                )
        return out


def measure(
    sizes: Sequence[int] = FULL_SIZES,
    *,
    latency_ms: float = 50.0,
    runs: int = 7,
    modes: Sequence[str] = MODES,
) -> list[UpdateTiming]:
    """Median push latency per size, kind and mode, against the simulator's RTT."""
    config = SimConfig(
        upstream=Transit(latency_ms),
        downstream=Transit(latency_ms),
        stream_pause_ms=STREAM_PAUSE_MS,
    )
    with simulator_process(config) as sim:
        return asyncio.run(_measure(sim.url, sizes, runs, modes))
