"""The interleaving explorer: every schedule up to a depth, random ones beyond it.

Stateless model checking in the manner of CHESS or a DPOR checker, kept simple: a
depth-first search over choices (which actor acts, which channel delivers), replaying
the scenario from its start when it backtracks (a replay of a few dozen steps costs
less than copying the engine). Up to ``depth`` choices every enabled choice is tried;
past it the schedule is completed by a fixed policy (channels first, then actors in
order), so each prefix yields one complete schedule that the checker judges. A state
already reached at the same or a smaller depth is not explored again; the fingerprint
(:mod:`accord.explore.run`) identifies states exactly, so the pruning loses nothing.

Random schedules pick uniformly among the enabled choices at every step, seeded, and
reach interleavings deep in a run that the bounded search does not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from accord.explore.findings import Finding
from accord.explore.run import ScheduleRun, play
from accord.explore.scenario import Scenario


@dataclass(frozen=True)
class Counterexample:
    """A schedule that produced findings: as explored, and shrunk."""

    choices: list[str]
    findings: list[Finding]
    seed: int = 0


@dataclass
class Exploration:
    """What exploring one scenario with one strategy found."""

    scenario: str
    strategy: str
    mode: str  # "exhaustive" or "random"
    depth: int = 0
    schedules: int = 0
    states: int = 0
    pruned: int = 0
    violating: int = 0
    seconds: float = 0.0
    complete: bool = True  # False when a budget stopped the search early
    cut: int = 0  # schedules the depth bound handed to the completion policy
    kinds: set[str] = field(default_factory=set)
    first: Counterexample | None = None

    def note(self, choices: list[str], findings: list[Finding], seed: int = 0) -> None:
        self.schedules += 1
        if findings:
            self.violating += 1
            self.kinds.update(f.kind for f in findings)
            if self.first is None:
                self.first = Counterexample(list(choices), findings, seed)


class _BudgetSpentError(Exception):
    pass


def explore(
    scenario: Scenario,
    strategy: str = "accord",
    *,
    depth: int = 6,
    hashing: bool = True,
    max_seconds: float | None = None,
    on_schedule: Callable[[Exploration], None] | None = None,
) -> Exploration:
    """Every schedule whose first ``depth`` choices differ, each completed and judged."""
    result = Exploration(scenario.name, strategy, "exhaustive", depth=depth)
    visited: dict[bytes, int] = {}
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds

    def replay(prefix: list[str]) -> ScheduleRun:
        run = ScheduleRun(scenario, strategy)
        for choice in prefix:
            run.step(choice)
        return run

    def finish(run: ScheduleRun) -> None:
        run.complete()
        result.note(run.choices, run.finish())
        if on_schedule is not None:
            on_schedule(result)
        if deadline is not None and time.perf_counter() > deadline:
            raise _BudgetSpentError

    def visit(run: ScheduleRun, prefix: list[str]) -> None:
        if hashing:
            fp = run.fingerprint()
            seen = visited.get(fp)
            if seen is not None and seen <= len(prefix):
                result.pruned += 1
                return
            visited[fp] = len(prefix)
        choices = run.enabled()
        if len(prefix) >= depth or not choices:
            if choices:
                result.cut += 1
            finish(run)
            return
        for k, choice in enumerate(choices):
            child = run if k == len(choices) - 1 else replay(prefix)
            child.step(choice)
            visit(child, [*prefix, choice])

    try:
        visit(ScheduleRun(scenario, strategy), [])
    except _BudgetSpentError:
        result.complete = False
    result.states = len(visited)
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class Deepening:
    """How deep the exhaustive search got within a time budget."""

    depth: int  # the deepest depth explored completely
    exhausted: bool  # True when that depth already covered every schedule there is
    last: Exploration | None


def deepen(
    scenario: Scenario,
    strategy: str = "accord",
    *,
    seconds: float,
    start: int = 1,
    on_depth: Callable[[Exploration], None] | None = None,
) -> Deepening:
    """Iterative deepening: explore at depth 1, 2, ... until the budget runs out or a
    depth covers the whole state space (no schedule was cut by the bound)."""
    deadline = time.perf_counter() + seconds
    done: Exploration | None = None
    depth = start
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        result = explore(scenario, strategy, depth=depth, max_seconds=left)
        if not result.complete:
            break
        done = result
        if on_depth is not None:
            on_depth(result)
        if result.violating:
            return Deepening(depth, False, done)  # deeper would only find more of it
        if result.cut == 0:
            return Deepening(depth, True, done)
        depth += 1
    return Deepening(0 if done is None else done.depth, False, done)


def explore_random(
    scenario: Scenario,
    strategy: str = "accord",
    *,
    seeds: range = range(100),
    on_schedule: Callable[[Exploration], None] | None = None,
) -> Exploration:
    """One uniformly random schedule per seed."""
    result = Exploration(scenario.name, strategy, "random")
    ends: set[bytes] = set()
    started = time.perf_counter()
    for seed in seeds:
        rng = random.Random(seed)
        run = ScheduleRun(scenario, strategy)
        run.complete(rng.choice)
        ends.add(run.fingerprint())
        result.note(run.choices, run.finish(), seed)
        if on_schedule is not None:
            on_schedule(result)
    result.states = len(ends)
    result.seconds = time.perf_counter() - started
    return result


def shrink(
    scenario: Scenario, strategy: str, found: Counterexample, *, max_replays: int = 3000
) -> Counterexample:
    """A shorter schedule that still yields a finding of the same kinds.

    Replays are lenient (a choice that is not enabled is skipped) and end with the
    completion policy, so removing choices always gives a runnable schedule. Chunks are
    removed first (halves, quarters, ...), then single choices, until nothing more can go.
    """
    kinds = {f.kind for f in found.findings}
    best = list(found.choices)
    best_findings = found.findings
    replays = 0

    def still_fails(candidate: list[str]) -> list[Finding] | None:
        nonlocal replays
        replays += 1
        _, findings = play(scenario, strategy, candidate)
        return findings if findings and kinds <= {f.kind for f in findings} else None

    chunk = max(1, len(best) // 2)
    while chunk >= 1 and replays < max_replays:
        i, progressed = 0, False
        while i < len(best) and replays < max_replays:
            candidate = best[:i] + best[i + chunk :]
            findings = still_fails(candidate)
            if findings is not None:
                best, best_findings, progressed = candidate, findings, True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    run, findings = play(scenario, strategy, best)
    if findings and kinds <= {f.kind for f in findings}:
        best_findings = findings
    return Counterexample(run.choices, best_findings, found.seed)
