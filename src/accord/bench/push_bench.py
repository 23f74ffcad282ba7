"""What one ``SyncEngine.push`` costs, as a ratio to the diff of the same edit.

A push has to find out what changed (the diff) and plan it; everything else it does is
overhead. So the floor measured beside every push is :func:`accord.diff.compute_diff` of
the engine's current context and the pushed one, timed in the same run; the ratio
``push / diff`` is the figure, and a curve over the conversation's size shows whether
the overhead grows with the items the edit did not touch.

The edit is the common one: append one user message to a conversation of ``n`` landed
items. Each push is timed on a fresh engine (the conversation fed in as the server's
``conversation.item.added`` / ``.done`` frames before the clock starts), because a push
changes the engine's state and a second identical push would measure a no-op.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accord.bench.engine_bench import item_frames
from accord.client.core import SessionCore
from accord.diff import compute_diff
from accord.items import ChatContext, Message

FULL_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100,)


@dataclass(frozen=True, slots=True)
class PushTiming:
    n: int
    push_ms: float
    diff_ms: float
    runs: int

    @property
    def ratio(self) -> float:
        """How many times the diff of the same edit one push takes."""
        return self.push_ms / self.diff_ms if self.diff_ms > 0 else float("inf")


def _landed_core(n: int) -> SessionCore:
    core = SessionCore(seed=0)
    for frame in item_frames(2 * n):
        core.receive_frame(frame, 0.0)
    return core


def _cpu(call: Callable[[], object]) -> float:
    """CPU time of one call in ms, the collector paused (as ``timeit`` does)."""
    gc.disable()
    try:
        start = time.process_time()
        call()
        return (time.process_time() - start) * 1000
    finally:
        gc.enable()


def measure_one(n: int, *, repeat: int | None = None) -> PushTiming:
    """Best of ``repeat`` pushes, each on a fresh engine, and of as many diffs.

    The engines are all set up before the first is timed, and each push follows the
    diff of the same edit: set-up between two timings (feeding ``2n`` frames, a full
    collection) left both cold in the CPU's caches, which at 100 items cost each about
    three times its warm time and measured the set-up's traces more than either. Default
    ``repeat``: 30 up to 1,000 items, fewer above (each engine holds ``n`` items)."""
    runs = repeat if repeat is not None else max(5, min(30, 30_000 // n))
    cases = []
    for _ in range(runs):
        engine = _landed_core(n).engine
        current = engine.context()
        if len(current) != n:
            raise RuntimeError(f"expected {n} landed items, the engine has {len(current)}")
        pushed = ChatContext([*current, Message(id="appended", role="user", content="one more")])
        cases.append((engine, current, pushed))
    gc.collect()
    best_push = best_diff = float("inf")
    for engine, current, pushed in cases:
        best_diff = min(best_diff, _cpu(functools.partial(compute_diff, current, pushed)))
        best_push = min(best_push, _cpu(functools.partial(engine.push, pushed, 0.0)))
    return PushTiming(n, best_push, best_diff, runs)


def measure(sizes: Sequence[int], *, repeat: int | None = None) -> list[PushTiming]:
    return [measure_one(n, repeat=repeat) for n in sizes]
