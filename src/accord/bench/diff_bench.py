"""Time ``compute_diff`` on the edit generator's cases: best of ``repeat`` runs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from accord.bench.edits import make_edit_case
from accord.diff import compute_diff


@dataclass(frozen=True, slots=True)
class DiffTiming:
    n: int
    best_ms: float
    removed: int
    created: int
    updated: int


def time_diff(n: int, *, repeat: int = 5, seed: int = 0) -> DiffTiming:
    case = make_edit_case(n, seed=seed)
    best = float("inf")
    result = compute_diff(case.old, case.new)
    for _ in range(repeat):
        start = time.perf_counter()
        result = compute_diff(case.old, case.new)
        best = min(best, time.perf_counter() - start)
    return DiffTiming(
        n=n,
        best_ms=best * 1000,
        removed=len(result.to_remove),
        created=len(result.to_create),
        updated=len(result.to_update),
    )
