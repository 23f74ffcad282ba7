"""What the engine forgets, and when: its state bounded by the live conversation.

A long session must not keep a record of every turn (issue 20). The engine's records of
finished work (tombstones of deleted items, finished responses and the items they
owned, the per-call sets) are needed only while something can still name them, so they
are dropped at a *quiet point*: connected, no restore pending, no operation open, no
response running (in-band or out-of-band), no tool running and no transcript awaited.
At such a point no operation anchors on a deleted item, no restore replays one and no
response the client knows of is running; only a server adding an item late to a
response it has just finished can still name one (R6, R15), which the latest few
tombstones and records kept whole are for. The rules, each applied at a quiet point:

- tombstones: let go but the latest few; the last few hundred deleted ids stay known
  as deleted (:meth:`Mirror.let_go`);
- a finished response's record (and its ``item_owner`` entries, ``done_items``, its
  follow-up bookkeeping): once none of the items it wrote is in the conversation and
  ``RESPONSES_KEPT`` responses were created after it. A response whose call is still
  there keeps its record, since that call's output may still land and ask the
  follow-up (engine/followups.py). The recent ones stay because a server may still
  add an item to a response it has just finished (a cancel racing its output: the
  explorer's R15 schedules), and that item must be known as the done response's, not
  taken for the first item of a new one (which would stay in flight forever);
- per-call state (``calls_ready``, tools started and ended, tool outputs): once no
  item in the conversation carries the call id (both the call and its output gone);
  the event ids of output creates: all, since no create is open;
- assistant audio remembered for a restore (``audio_seen``, ``heard``): once the item
  is gone, as a restore only replays items of the conversation.
- rewrite aliases (old id -> the id a rewrite, move or put-back gave it): once the id
  they lead to left the conversation, but the latest ``ALIASES_KEPT`` (a writer's stale
  context may still name an old id soon after; one that names it later has an id the
  engine no longer knows, as it would after a restart);
- the anchors of refused creates (``failed_after``): all, since they only re-anchor
  creates still open;
- foreign ids mapped to wire ids (engine/wire_ids.py): once no item in the conversation
  carries the wire id, as its id or as a call id, but the latest ``ALIASES_KEPT``.

A quiet point comes once per turn in an ordinary session, and the sweep costs one pass
over the conversation and the (now small) records.
"""

from __future__ import annotations

from typing import Protocol

from accord.engine.followups import FollowUps
from accord.engine.ledger import Ledger
from accord.engine.merge import resolve_alias
from accord.engine.mirror import Mirror
from accord.engine.reconnect import Reconnect
from accord.engine.responses import Responses
from accord.engine.wire_ids import WireIds
from accord.items import FunctionCall, FunctionCallOutput

RESPONSES_KEPT = 16  # the latest responses' records stay, done or not
ALIASES_KEPT = 256  # the latest rewrite aliases and foreign ids stay, their items gone or not


class Prunable(Protocol):
    """The parts of the engine a sweep reads and trims."""

    mirror: Mirror
    ledger: Ledger
    responses: Responses
    followups: FollowUps
    reconnect: Reconnect
    connected: bool
    calls_ready: set[str]
    wire_ids: WireIds
    audio_seen: dict[str, tuple[str, int | None]]
    heard: dict[str, int]

    def is_quiet(self, out_of_band: bool = True) -> bool: ...


class Pruner:
    """Sweeps at a quiet point once a response was created or an item deleted since the
    last sweep: on every other server input the check is two comparisons."""

    def __init__(self) -> None:
        self._swept_at = (-1, -1)  # the response and deletion counters at the last sweep

    def at_quiet(self, eng: Prunable) -> None:
        r = eng.responses
        moved = (r.counter, eng.mirror.deletions)
        if moved == self._swept_at or not eng.connected or eng.reconnect.at_drop is not None:
            return
        # The cheap signs of work first: while a response streams or a push's deletes
        # are acknowledged one by one, is_quiet (a pass over the ops and the responses'
        # records) is not run on every event.
        busy = bool(r.inband_busy() or r.tools_running or r.awaiting_transcript)
        busy = busy or bool(r.oob_request_of) or eng.ledger.has_waiting()
        busy = busy or eng.ledger.in_transit()
        if not busy and eng.is_quiet():
            sweep(eng)
            self._swept_at = moved


def sweep(eng: Prunable) -> None:
    """Forget what nothing can name any more; call only at a quiet point."""
    mirror, responses, followups = eng.mirror, eng.responses, eng.followups
    mirror.let_go()
    _forget_responses(mirror, responses, followups)
    live_calls = {
        item.call_id for item in mirror if isinstance(item, FunctionCall | FunctionCallOutput)
    }
    for calls in (eng.calls_ready, responses.tools_started, responses.tools_ended):
        calls.intersection_update(live_calls)
    for call_id in [c for c in followups.outputs if c not in live_calls]:
        del followups.outputs[call_id]
    followups.output_ops.clear()
    for audio in (eng.audio_seen, eng.heard):
        for item_id in [i for i in audio if i not in mirror]:
            del audio[item_id]
    _forget_aliases(eng.ledger, mirror)
    eng.ledger.failed_after.clear()
    eng.wire_ids.forget(lambda wire: wire in mirror or wire in live_calls, ALIASES_KEPT)


def _forget_aliases(ledger: Ledger, mirror: Mirror) -> None:
    aliases = ledger.aliases
    older = list(aliases)[: max(0, len(aliases) - ALIASES_KEPT)]  # in order of rewrite
    for old in older:
        if resolve_alias(aliases, old) not in mirror:
            del aliases[old]


def _forget_responses(mirror: Mirror, responses: Responses, followups: FollowUps) -> None:
    older = list(responses.by_id.items())[:-RESPONSES_KEPT]  # by_id: in creation order
    gone = [
        rid
        for rid, info in older
        if info.done and not any(item_id in mirror for item_id in info.items)
    ]
    for rid in gone:
        del responses.by_id[rid]
    owners = responses.item_owner
    for item_id in [i for i, rid in owners.items() if rid not in responses.by_id]:
        del owners[item_id]
    # done_items is read only for an item whose response runs (Responses.partial).
    responses.done_items.intersection_update(owners)
    followups.answered.intersection_update(responses.by_id)
    for rid in [r for r in followups.landed_at if r not in responses.by_id]:
        del followups.landed_at[rid]
