"""What the diff benchmark measures, shared by both implementations' timers."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DiffTiming:
    """One implementation on one case: its best time, the diff's size and its path."""

    n: int
    best_ms: float
    removed: int
    created: int
    updated: int
    path: str


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` calls of ``run``, in ms: the least disturbed by other
    work on the machine, which only ever adds time."""
    gc.collect()  # every series starts from the same heap; the collector stays on
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000
