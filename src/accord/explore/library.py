"""The scenario library: one scenario per race of docs/races.md, by name."""

from __future__ import annotations

from accord.explore.races_current import CURRENT
from accord.explore.races_early import EARLY
from accord.explore.races_late import LATE
from accord.explore.races_refusals import REFUSALS
from accord.explore.scenario import Scenario

# The depth the test suite explores every scenario to, exhaustively, with both strategies;
# each scenario's ``min_schedules`` is a floor on the schedules completed at this depth.
SUITE_DEPTH = 7

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (*EARLY, *LATE, *REFUSALS, *CURRENT)}


def select(names: str | None) -> list[Scenario]:
    """Scenarios named in a comma-separated list (``r1,r7``), or all of them."""
    if not names:
        return list(SCENARIOS.values())
    chosen: list[Scenario] = []
    for name in (n.strip().lower() for n in names.split(",")):
        if name not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise KeyError(f"no scenario {name!r}; the library has {known}")
        chosen.append(SCENARIOS[name])
    return chosen
