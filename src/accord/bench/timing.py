"""What the diff benchmark measures, and how it times both implementations fairly."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

BUDGET_S = 0.3  # per implementation and size: small sizes get many runs, not just `repeat`
MAX_RUNS = 500


@dataclass(frozen=True, slots=True)
class DiffTiming:
    """One implementation on one case: its best time, the diff's size and its path."""

    n: int
    best_ms: float
    removed: int
    created: int
    updated: int
    path: str
    runs: int = 0


def interleaved_best(
    runs: Sequence[Callable[[], object]], *, repeat: int, budget_s: float = BUDGET_S
) -> tuple[list[float], int]:
    """The best time of each callable in ms, and the number of rounds.

    Time is this process's CPU time (``time.process_time``): on a shared machine other
    processes preempt a call, which inflates its wall time but not its CPU time. The
    callables take turns, one call each per round, so what other work still costs (caches
    and the like) hits all of them alike instead of one implementation's whole series. The
    best (not the mean) is kept: disturbances only ever add time. The garbage collector
    is paused during each call, as ``timeit`` does: a collection costs whoever happens to
    allocate when a threshold is crossed, and walks the whole heap, both implementations'
    objects included, so it would charge one for the other's garbage. Collections run
    between the calls instead. Rounds: at least ``repeat``,
    more for fast calls, up to about ``budget_s`` per callable (at most ``MAX_RUNS``).
    """
    gc.collect()
    best = [math.inf] * len(runs)
    rounds, target = 0, max(1, repeat)
    while rounds < target:
        for k, run in enumerate(runs):
            gc.disable()
            try:
                start = time.process_time()
                run()
                took = time.process_time() - start
            finally:
                gc.enable()
            best[k] = min(best[k], took)
        rounds += 1
        if rounds == 1:
            slowest = max(best)
            extra = int(budget_s / slowest) if slowest > 0 else MAX_RUNS
            target = min(MAX_RUNS, max(target, extra))
    return [b * 1000 for b in best], rounds
