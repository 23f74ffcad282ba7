"""The naive push strategy of today's frameworks, kept so tests can show they catch it.

shared/RACES.md defines it precisely: LiveKit Agents 1.8.9's algorithm. Diff the mirror
of the server against the pushed context (a longest common subsequence on ids; with
unique ids that is the longest increasing run :func:`accord.diff.compute_diff` finds),
delete what the diff removes, create what it adds anchored on the previous pushed item
(``"root"`` when none), and re-create a changed message under the same id. Nothing here
knows what the writer had seen, which is the bug: items the server added after the
writer's snapshot look "intentionally removed".

Never use this to drive a real session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.diff import compute_diff
from accord.items import Item, Message


@dataclass(frozen=True, slots=True)
class NaiveDelete:
    item_id: str


@dataclass(frozen=True, slots=True)
class NaiveCreate:
    item: Item
    previous_item_id: str  # an id, or "root"


NaiveOp = NaiveDelete | NaiveCreate


def naive_push(mirror: Sequence[Item], pushed: Sequence[Item]) -> list[NaiveOp]:
    """The operations the naive strategy sends to make the server equal to ``pushed``."""
    diff = compute_diff(mirror, pushed)
    by_id = {item.id: item for item in pushed}
    ops: list[NaiveOp] = [NaiveDelete(item_id) for item_id in diff.to_remove]
    for prev, item_id in diff.to_update:
        if isinstance(by_id[item_id], Message):  # content compared for messages only
            ops.append(NaiveDelete(item_id))
            ops.append(NaiveCreate(by_id[item_id], prev or "root"))
    for prev, item_id in diff.to_create:
        ops.append(NaiveCreate(by_id[item_id], prev or "root"))
    return ops
