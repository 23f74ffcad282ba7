"""Drive a pair to quiet: finish what is running so the quiet invariants can be judged.

The explorer, the random state machine and the stress harness all end a run the same
way: responses finish, tools that were dispatched report, orphaned calls are abandoned,
pending transcripts arrive, and both channels drain. Only then does the checker's
"at quiet" part (no lost item, convergence, every op resolved once) mean anything.
"""

from __future__ import annotations

from accord.items import Message
from accord.verify.harness import Pair

QUIET_OUTPUT = '{"ok": true}'


class NotQuietError(RuntimeError):
    """The pair kept producing work: something loops (a response answering itself)."""


def drive_to_quiet(p: Pair, limit: int = 200) -> None:
    """Finish whatever is running, one kind of work at a time, then settle."""
    for _ in range(limit):
        p.settle()
        if p.active is not None:
            p.server_finish(p.active.response_id)
            continue
        started = {r.call_id for r in p.log.tool_reports if r.event == "started"}
        ended = {r.call_id for r in p.log.tool_reports if r.event != "started"}
        pending = [c for c in p.ready_calls if c.call_id not in ended]
        if pending:
            call = pending[0]
            if call.call_id not in started:
                p.tool_started(call.call_id)
            p.tool_finished(call.call_id, QUIET_OUTPUT)
            continue
        orphans = [c for c in p.orphaned if c not in ended]
        if orphans:
            p.tool_abandoned(orphans[0])
            continue
        waiting = [
            i.id
            for i in p.store.items()
            if isinstance(i, Message)
            and i.audio
            and i.content is None
            and p.store.is_in_flight(i.id)
        ]
        if waiting:
            p.server_transcript(waiting[0], "late words")
            continue
        if not p.up and not p.down:
            return
    raise NotQuietError(f"could not drive the pair to quiet in {limit} rounds")
