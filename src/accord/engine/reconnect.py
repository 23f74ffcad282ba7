"""A drop and the restore after it (docs/architecture.md, invariant 7), wired to the engine.

At the drop the projected state is frozen with what the restore needs to know of each
item (partial, truncated where, the transcript the server dropped); pending creates,
deletes and truncates wait. On the new, empty session the restore plan is created with
server VAD off; when every restore create has resolved, the waiting ops resolve (success
if their effect is on the restored server, or was superseded at the drop), VAD is
switched back on and the loss report goes out. A second drop during a restore starts
over from the same frozen state.
"""

from __future__ import annotations

from dataclasses import replace

from accord.engine import events as ev
from accord.engine.configure import carried_over
from accord.engine.ledger import OpState
from accord.engine.restore import AtDrop, plan_restore
from accord.engine.state import EngineState
from accord.items import Item


class Reconnect:
    def __init__(self, engine: EngineState) -> None:
        self.engine = engine
        self.at_drop: list[AtDrop] | None = None
        self.restore_ops: set[str] = set()
        self.restoring = False
        self.drop_ids: set[str] = set()
        self.lost: tuple[str, ...] = ()
        self.reconnects = 0  # connections restored so far: Reconnected.attempt
        # Set by a resume (accord.engine.resume): this restore ends with Resumed, which
        # names the calls run again and those answered as interrupted.
        self.resuming: ev.Resumed | None = None
        self.owed_reply = False  # a resume: a reply was owed when the journal stopped

    def lost_connection(self, now: float) -> list[ev.Effect]:
        eng = self.engine
        if self.at_drop is None or not self.restoring:
            self.at_drop = self.drop_state()
        effects: list[ev.Effect] = []
        for op in eng.ledger.open_ops():
            eng.ledger.move(op, "drop")
            if op.kind not in ("create", "delete", "truncate") and not carried_over(op):
                eng.ledger.move(op, "resolve")
                effects.append(ev.OpResolved(op.event_id, "failure", message="connection lost"))
        return effects

    def drop_state(self) -> list[AtDrop]:
        """The projected state with what the restore needs to know of each item; a
        truncate still in transit counts as done (it is part of the projected state)."""
        eng = self.engine
        return [self.facts(item) for item in eng.ledger.projected(eng.mirror)]

    def facts(self, item: Item) -> AtDrop:
        """What the restore needs to know of one projected item."""
        eng = self.engine
        transcript, full_ms = eng.audio_seen.get(item.id, (None, None))
        heard = eng.heard.get(item.id)
        pending = eng.ledger.find_open("truncate", item.id)
        if pending is not None and pending.audio_end_ms is not None:
            heard = pending.audio_end_ms
        return AtDrop(item, eng.responses.partial(item.id), heard, transcript, full_ms)

    def again(self, now: float) -> list[ev.Effect]:
        eng = self.engine
        if self.resuming is None:
            self.reconnects += 1
        at_drop = self.at_drop or []
        self.drop_ids = {entry.item.id for entry in at_drop}
        plan = plan_restore(at_drop)
        eng.mirror.clear()
        eng.responses.reset()
        self.lost = plan.lost
        self.restoring = True
        self.restore_ops = set()
        if eng.config.server_vad:
            eng.plan("session", now, server_vad=False)
        for item, after in _anchors(plan.items):
            op = eng.plan("create", now, item=item, item_id=item.id, after=after)
            self.restore_ops.add(op.event_id)
        return eng.flush(now) + self.maybe_done(now)

    def is_restore_op(self, event_id: str) -> bool:
        return event_id in self.restore_ops

    def maybe_done(self, now: float) -> list[ev.Effect]:
        eng = self.engine
        if not self.restoring or any(
            eng.ledger.ops[e].open for e in self.restore_ops if e in eng.ledger.ops
        ):
            return []
        self.restoring = False
        self.restore_ops = set()
        self.at_drop = None
        effects: list[ev.Effect] = []
        for op in eng.ledger.open_ops():
            if op.state is not OpState.RESTORING or carried_over(op):
                continue  # an update: the new connection's configuration answers it
            if op.kind == "create":  # restored, or superseded by a later op at the drop
                ok = op.item_id in eng.mirror or op.item_id not in self.drop_ids
            elif op.kind == "delete":
                ok = op.item_id not in eng.mirror
            else:
                ok = True  # a truncate: the restored turn is cut where it was heard
            effects.extend(eng.resolve(op, "success" if ok else "failure"))
        if eng.config.server_vad:
            eng.plan("session", now, server_vad=True)
        eng.follow_up_after_restore(now)
        if self.resuming is not None:
            resumed, self.resuming = self.resuming, None
            effects.append(replace(resumed, restored=len(eng.mirror), lost=self.lost))
        else:
            effects.append(ev.Reconnected(self.reconnects, len(eng.mirror), self.lost))
        return effects + eng.flush(now)


def _anchors(items: tuple[Item, ...]) -> list[tuple[Item, str | None]]:
    """Each restored item after the previous one, as one run from the start.

    An item after an output anchors on that output, so it waits for it. (It anchored on
    the item before the output, to spare a round trip, relying on being processed
    before the output; a create refused by ``server_error`` and sent again after the
    output had landed then went in between the call and its output: stress at a 5 %
    server_error rate judged "restored in another order".)"""
    out: list[tuple[Item, str | None]] = []
    last: str | None = None
    for item in items:
        out.append((item, last))
        last = item.id
    return out
