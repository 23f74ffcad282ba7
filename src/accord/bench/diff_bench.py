"""Time ``compute_diff`` on the edit generator's cases, beside LiveKit's when installed.

Each implementation gets the same edit case (:func:`accord.bench.edits.make_edit_case`),
converted to its own context type before the clock starts; each is timed best of
``repeat`` runs (more for fast cases) with ``time.perf_counter``, the two taking turns
(:func:`accord.bench.timing.interleaved_best`) so that other work on the machine hits
both alike. The rows also say which code path each implementation took on the case, so
a fast path on one side is never compared with a slow path on the other unseen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import lt
from typing import Any

from accord.bench import livekit_diff
from accord.bench.edits import EditCase, make_edit_case
from accord.bench.timing import DiffTiming, interleaved_best
from accord.diff import compute_diff
from accord.items import ChatContext

SCALING_SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
QUICK_SIZES = (100, 1_000)

PATH_IN_ORDER = "no LIS"  # survivors in order: the LIS step is skipped
PATH_LIS = "LIS"


@dataclass(frozen=True, slots=True)
class DiffRow:
    """Both implementations on the same case; ``livekit`` is None when not installed."""

    n: int
    moves: int
    accord: DiffTiming
    livekit: DiffTiming | None
    agreement: str | None  # livekit_diff.agreement: "same", "same size" or "different"

    @property
    def ratio(self) -> float | None:
        """How many times faster accord's diff was (LiveKit's time / accord's)."""
        if self.livekit is None or self.accord.best_ms <= 0:
            return None
        return self.livekit.best_ms / self.accord.best_ms


def accord_path(old: ChatContext, new: ChatContext) -> str:
    """The path ``compute_diff`` takes: survivors already in order skip the LIS."""
    position = {item.id: i for i, item in enumerate(old)}
    common = [position[item.id] for item in new if item.id in position]
    return PATH_IN_ORDER if all(map(lt, common, common[1:])) else PATH_LIS


def _timing(case: EditCase, diff: Any, best_ms: float, path: str, runs: int) -> DiffTiming:
    return DiffTiming(
        n=case.n,
        best_ms=best_ms,
        removed=len(diff.to_remove),
        created=len(diff.to_create),
        updated=len(diff.to_update),
        path=path,
        runs=runs,
    )


def compare(
    sizes: Sequence[int],
    *,
    repeat: int = 5,
    seed: int = 0,
    moves: int = 0,
    livekit: livekit_diff.LiveKitDiff | None = None,
) -> list[DiffRow]:
    """accord's diff on every size, and LiveKit's beside it when ``livekit`` is given
    (:func:`accord.bench.livekit_diff.load`), timed in alternation on the same case."""
    rows: list[DiffRow] = []
    for n in sizes:
        case = make_edit_case(n, seed=seed, moves=moves)
        ours_diff = compute_diff(case.old, case.new)  # a warm-up, and the diff reported
        runs: list[Callable[[], object]] = [functools.partial(compute_diff, case.old, case.new)]
        if livekit is not None:
            old, new = livekit.convert(case.old), livekit.convert(case.new)
            their_diff = livekit.diff(old, new)
            runs.append(functools.partial(livekit.diff, old, new))
        best, rounds = interleaved_best(runs, repeat=repeat)
        ours = _timing(case, ours_diff, best[0], accord_path(case.old, case.new), rounds)
        theirs: DiffTiming | None = None
        agreement: str | None = None
        if livekit is not None:
            path = livekit_diff.livekit_path(case.old.ids(), case.new.ids())
            theirs = _timing(case, their_diff, best[1], path, rounds)
            agreement = livekit_diff.agreement(ours_diff, their_diff)
        rows.append(DiffRow(n, moves, ours, theirs, agreement))
    return rows
