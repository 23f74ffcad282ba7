"""What the explorer reports about one finished schedule.

The checker's invariants (shared/DESIGN.md) are the main judge. Some races of
shared/RACES.md fail in ways that are not a broken invariant of the conversation but are
still observable at the end of a run, so the explorer adds four findings of its own:

- ``OP_FAILED``: a client operation resolved as an error (an ``invalid_tool_call_id``, a
  truncate of a deleted item, a refused ``response.create``). accord resolves the
  harmless ones (idempotent cancel, truncate of a deleted item) as moot.
- ``UNANSWERED``: a tool output on the server that no response ever saw (R14, the lost
  follow-up).
- ``ANSWERED_TWICE``: two responses answered the same outputs (a follow-up sent twice).
- ``STUCK``: an actor could never take its next step (a tool whose call never became
  ready, a barge-in on an item the client never saw).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from accord.explore.checker import Violation
from accord.explore.harness import Pair
from accord.items import FunctionCallOutput


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    item_id: str | None
    detail: str

    @classmethod
    def of(cls, violation: Violation) -> Finding:
        return cls(violation.invariant.name, violation.item_id, violation.detail)

    def __str__(self) -> str:
        where = f" [{self.item_id}]" if self.item_id else ""
        return f"{self.kind}{where}: {self.detail}"


def judge(p: Pair, stuck: list[str]) -> list[Finding]:
    """Every finding about a pair driven to quiet."""
    found = [Finding.of(v) for v in p.violations()]
    found += failed_ops(p)
    found += answers(p)
    found += [Finding("STUCK", None, f"{what} never became possible") for what in stuck]
    return found


def failed_ops(p: Pair) -> list[Finding]:
    found: list[Finding] = []
    for res in p.log.resolutions:
        if res.status != "error":
            continue
        op = p.log.ops.get(res.event_id)
        kind = op.kind if op is not None else "operation"
        item = op.item_id if op is not None else None
        found.append(Finding("OP_FAILED", item, f"{kind} {res.event_id!r} failed: {res.code}"))
    return found


def answers(p: Pair) -> list[Finding]:
    """Each tool output on the server was seen by some response (in any server session:
    a restore carries an answered output over); no two responses of one server session
    answered the same output. Outputs are matched by call id, so an output rewritten
    under a fresh id (a redaction) counts as the one it replaced."""
    sights = list(p.response_sights.values())
    found: list[Finding] = []
    for item in p.store.items():
        if not isinstance(item, FunctionCallOutput):
            continue
        if not any(item.call_id in s.saw for s in sights):
            found.append(Finding("UNANSWERED", item.id, "no response saw this tool output"))
        per_session = Counter(s.session for s in sights if item.call_id in s.answers)
        twice = [n for n in per_session.values() if n > 1]
        if twice:
            found.append(
                Finding(
                    "ANSWERED_TWICE", item.id, f"{max(twice)} responses of one session answered it"
                )
            )
    return found
