"""One schedule of a scenario: the world, whose turn it is, and what each side has seen.

A schedule is a list of choices: an actor's name (it takes its next action), ``up`` (the
server processes the next client event) or ``down`` (the client receives the next server
event). :class:`ScheduleRun` applies choices one at a time, tells which are enabled, and
keeps the fingerprint the explorer hashes.

The fingerprint is sound for the checker, not a guess. The client (engine) and the
server (store) are deterministic, and the channels are FIFO, so the state of the pair is
a function of the sequence of inputs each side received; the check log adds one thing
that depends on the interleaving across sides: the store's transition counter stamped
on every decision the client logs. The fingerprint is therefore a digest of the
client's inputs (with that stamp whenever a step logged something), a digest of the
server's inputs, the actors' positions and the restore verdicts so far. Two schedules
that differ only in the order of independent steps (the client reading an ack while the
server applies the next create) reach the same fingerprint and are explored once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from hashlib import blake2b

from accord.explore.findings import Finding, judge
from accord.explore.scenario import Scenario, World
from accord.explore.timeline import TimelineStep, describe_event, describe_op
from accord.verify.quiet import drive_to_quiet

UP = "up"
DOWN = "down"
QUIET = "quiet"


class ScheduleError(ValueError):
    """A choice that is not enabled was forced (a replay file that does not fit)."""


@dataclass
class _Digest:
    client: blake2b
    server: blake2b

    @classmethod
    def fresh(cls) -> _Digest:
        return cls(blake2b(digest_size=16), blake2b(digest_size=16))


class ScheduleRun:
    def __init__(
        self, scenario: Scenario, strategy: str, *, seed: int = 0, record: bool = False
    ) -> None:
        self.scenario = scenario
        self.world: World = scenario.world(strategy, seed=seed)
        self.pcs = [0] * len(scenario.actors)
        self.choices: list[str] = []
        self._digest = _Digest.fresh()
        self._restore_seen = 0
        self.timeline: list[TimelineStep] | None = [] if record else None
        self._actor_index = {a.name: i for i, a in enumerate(scenario.actors)}

    # -- what may happen next -----------------------------------------------------------

    def enabled(self) -> list[str]:
        """Enabled choices, channels first: the order the completion policy prefers."""
        p = self.world.pair
        out: list[str] = []
        if p.down:
            out.append(DOWN)
        if p.up:
            out.append(UP)
        for i, actor in enumerate(self.scenario.actors):
            pc = self.pcs[i]
            if pc < len(actor.actions) and actor.actions[pc].ready(self.world):
                out.append(actor.name)
        return out

    def waiting(self) -> list[str]:
        """Actions that have not run: after the end of a schedule, the stuck ones."""
        return [
            f"{actor.name}: {actor.actions[self.pcs[i]].label}"
            for i, actor in enumerate(self.scenario.actors)
            if self.pcs[i] < len(actor.actions)
        ]

    # -- taking a step ------------------------------------------------------------------

    def step(self, choice: str) -> None:
        p = self.world.pair
        log_size = self._log_size()
        sent: list[str] = []
        errors_before = len(p.errors)
        if self.timeline is not None:
            p.handle_hook = lambda op: sent.append(describe_op(op))
        if choice == DOWN:
            if not p.down:
                raise ScheduleError("nothing to deliver down")
            event = p.down[0]
            label, actor, side = describe_event(event), "client", "client"
            self._digest.client.update(repr(event).encode())
            p.deliver_down(1)
        elif choice == UP:
            if not p.up:
                raise ScheduleError("nothing to deliver up")
            op = p.up[0]
            label, actor, side = describe_op(op), "server", "server"
            self._digest.server.update(repr(op).encode())
            p.deliver_up(1)
        else:
            index = self._actor_index.get(choice)
            if index is None:
                raise ScheduleError(f"no actor named {choice!r}")
            actors = self.scenario.actors[index]
            if self.pcs[index] >= len(actors.actions):
                raise ScheduleError(f"{choice} has no action left")
            action = actors.actions[self.pcs[index]]
            if not action.ready(self.world):
                raise ScheduleError(f"{choice} cannot take {action.label!r} yet")
            label, actor, side = action.label, choice, action.side
            tag = f"{choice}#{self.pcs[index]}".encode()
            if side in ("client", "both"):
                self._digest.client.update(tag)
            if side in ("server", "both"):
                self._digest.server.update(tag)
            self.pcs[index] += 1
            action.run(self.world)
        self.choices.append(choice)
        self._stamp(log_size)
        if self.timeline is not None:
            p.handle_hook = None
            self._record(actor, label, sent, errors_before)

    def _log_size(self) -> int:
        log = self.world.pair.log
        # Only these records carry the store's transition counter (resolutions do not).
        return len(log.ops) + len(log.pushes) + len(log.tool_reports)

    def _stamp(self, log_size: int) -> None:
        p = self.world.pair
        if self._log_size() != log_size:
            self._digest.client.update(b"@%d" % p.store.transitions)
        if len(p.restore_violations) != self._restore_seen:
            self._restore_seen = len(p.restore_violations)
            self._digest.client.update(repr(p.restore_violations).encode())

    def _record(self, actor: str, label: str, sent: list[str], errors_before: int) -> None:
        assert self.timeline is not None
        p = self.world.pair
        errors = tuple(f"{e.code}: {e.message}" for e in p.errors[errors_before:])
        self.timeline.append(
            TimelineStep(
                len(self.timeline) + 1, actor, label, tuple(sent), errors, tuple(p.server_ids())
            )
        )

    def fingerprint(self) -> bytes:
        d = self._digest
        return b"".join(
            (
                d.client.digest(),
                d.server.digest(),
                bytes(str(self.pcs), "ascii"),
                b"%d" % self._restore_seen,
            )
        )

    # -- ending -------------------------------------------------------------------------

    def complete(self, policy: Callable[[list[str]], str] | None = None) -> None:
        """Take choices until none is enabled (``policy`` picks; default: the first)."""
        while choices := self.enabled():
            self.step(choices[0] if policy is None else policy(choices))

    def finish(self) -> list[Finding]:
        """Drive the pair to quiet and judge it (stuck actors are findings too)."""
        stuck = self.waiting()
        p = self.world.pair
        errors_before = len(p.errors)
        sent: list[str] = []
        if self.timeline is not None:
            p.handle_hook = lambda op: sent.append(describe_op(op))
        drive_to_quiet(p)
        if self.timeline is not None:
            p.handle_hook = None
            if sent or len(p.errors) != errors_before:
                self._record(QUIET, "running work finishes; channels drain", sent, errors_before)
        found = judge(p, stuck)
        if self.scenario.check is not None:
            found += [Finding(*problem) for problem in self.scenario.check(self.world)]
        return found


def play(
    scenario: Scenario,
    strategy: str,
    choices: list[str],
    *,
    seed: int = 0,
    record: bool = False,
    lenient: bool = True,
) -> tuple[ScheduleRun, list[Finding]]:
    """Replay ``choices`` (skipping those not enabled when ``lenient``), complete, judge."""
    run = ScheduleRun(scenario, strategy, seed=seed, record=record)
    for choice in choices:
        if lenient and choice not in run.enabled():
            continue
        run.step(choice)
    run.complete()
    return run, run.finish()
