"""What the explorer reports about one finished schedule.

The checker's invariants (docs/architecture.md) are the main judge. Some races of
docs/races.md fail in ways that are not a broken invariant of the conversation but are
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

from dataclasses import dataclass

from accord.items import FunctionCallOutput
from accord.verify.checker import Violation
from accord.verify.harness import Pair


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
    """Operations resolved as errors, in every server session of the run."""
    found: list[Finding] = []
    seen: set[str] = set()
    for log in [*(log for _, log in p.past), p.log]:
        for res in log.resolutions:
            if res.status != "error" or res.event_id in seen:
                continue
            seen.add(res.event_id)
            op = log.ops.get(res.event_id)
            kind = op.kind if op is not None else "operation"
            item = op.item_id if op is not None else None
            found.append(Finding("OP_FAILED", item, f"{kind} {res.event_id!r} failed: {res.code}"))
    return found


def answers(p: Pair) -> list[Finding]:
    """Each tool output on the server was seen by some response (in any server session:
    a restore carries an answered output over), and no follow-up answered outputs twice.

    A follow-up is a ``response.create`` the application did not ask for. It answers
    outputs twice when every output it saw had been seen by an earlier response of its
    session that the client already knew of when it (last) sent the request (R14: a
    follow-up retried after VAD's response saw the output). A request sent before the
    client could know is the protocol's own race, not the client's fault. Outputs are
    matched by call id, so an output rewritten under a fresh id counts as the one it
    replaced.
    """
    sights = p.response_sights
    found: list[Finding] = []
    for item in p.store.items():
        if isinstance(item, FunctionCallOutput) and not any(
            item.call_id in s.saw for s in sights.values()
        ):
            found.append(Finding("UNANSWERED", item.id, "no response saw this tool output"))
    for rid, sight in sights.items():
        request = p.served_requests.get(rid)
        if request is None or request in p.app_requests:
            continue
        known = p.known_at_send.get(request, frozenset())
        seen: set[str] = set()
        for other in known:
            earlier = sights.get(other)
            if earlier is not None and earlier.session == sight.session:
                seen |= earlier.saw
        if sight.saw and sight.saw <= seen:
            found.append(
                Finding(
                    "ANSWERED_TWICE",
                    rid,
                    f"follow-up {request!r} was sent after a response it knew of had seen "
                    f"every output it answers ({sorted(sight.saw)})",
                )
            )
    return found
