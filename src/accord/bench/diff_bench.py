"""Time ``compute_diff`` on the edit generator's cases, beside LiveKit's when installed.

Each implementation gets the same edit case (:func:`accord.bench.edits.make_edit_case`),
converted to its own context type before the clock starts; each is timed best of
``repeat`` runs with ``time.perf_counter``. The rows also say which code path each
implementation took on the case, so a fast path on one side is never compared with a
slow path on the other without it being visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import lt

from accord.bench import livekit_diff
from accord.bench.edits import EditCase, make_edit_case
from accord.bench.timing import DiffTiming, best_of
from accord.diff import ContextDiff, compute_diff
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


def time_accord(case: EditCase, *, repeat: int = 5) -> tuple[DiffTiming, ContextDiff]:
    result = compute_diff(case.old, case.new)  # warm-up, and the result to report
    best_ms = best_of(repeat, lambda: compute_diff(case.old, case.new))
    timing = DiffTiming(
        n=case.n,
        best_ms=best_ms,
        removed=len(result.to_remove),
        created=len(result.to_create),
        updated=len(result.to_update),
        path=accord_path(case.old, case.new),
    )
    return timing, result


def time_diff(n: int, *, repeat: int = 5, seed: int = 0, moves: int = 0) -> DiffTiming:
    """accord's ``compute_diff`` alone on the case for ``n``."""
    return time_accord(make_edit_case(n, seed=seed, moves=moves), repeat=repeat)[0]


def compare(
    sizes: Sequence[int],
    *,
    repeat: int = 5,
    seed: int = 0,
    moves: int = 0,
    livekit: livekit_diff.LiveKitDiff | None = None,
) -> list[DiffRow]:
    """accord's diff on every size, and LiveKit's beside it when ``livekit`` is given
    (:func:`accord.bench.livekit_diff.load`)."""
    lk = livekit
    rows: list[DiffRow] = []
    for n in sizes:
        case = make_edit_case(n, seed=seed, moves=moves)
        ours, ours_diff = time_accord(case, repeat=repeat)
        theirs: DiffTiming | None = None
        agreement: str | None = None
        if lk is not None:
            theirs, their_diff = lk.time(case, repeat=repeat)
            agreement = livekit_diff.agreement(ours_diff, their_diff)
        rows.append(DiffRow(n, moves, ours, theirs, agreement))
    return rows
