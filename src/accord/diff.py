"""The public two-way diff between two contexts: what to remove, create and rewrite.

``compute_diff(old, new)`` answers "which operations turn ``old`` into ``new``", the
question today's frameworks ask of their mirror before every push. accord's engine does
not push this diff directly (it merges three ways, docs/architecture.md), but the diff is the
public, testable two-way view: ``to_update`` lists the items the engine would rewrite.

Survivors keep their relative order: the longest increasing subsequence of their old
positions, taken in new order, stays put; every other common item moved and is removed
and re-created. O(n log n) in the number of items.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import lt

from accord.items import ChatContext, Item


@dataclass(frozen=True, slots=True)
class ContextDiff:
    """Operations that turn one context into another.

    ``to_remove``: ids of ``old`` to delete (gone, or moved). ``to_create``: pairs
    (previous item id in ``new`` or None for the start, id), in ``new`` order, so each
    anchor exists by the time its item is inserted. ``to_update``: the same pairs for
    items that stayed in place with changed content.
    """

    to_remove: list[str] = field(default_factory=list)
    to_create: list[tuple[str | None, str]] = field(default_factory=list)
    to_update: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the two contexts are the same: nothing to send."""
        return not (self.to_remove or self.to_create or self.to_update)


def _items_of(ctx: ChatContext | Iterable[Item]) -> Sequence[Item]:
    return ctx.items if isinstance(ctx, ChatContext) else list(ctx)


def longest_increasing_run(values: Sequence[int]) -> set[int]:
    """Indexes into ``values`` of one longest strictly increasing subsequence.

    Patience sorting: ``tails[k]`` is the index of the smallest value ending an increasing
    subsequence of length k+1; ``parent`` links each index to its predecessor.
    """
    tails: list[int] = []
    tail_values: list[int] = []
    parent = [-1] * len(values)
    for i, value in enumerate(values):
        k = bisect_left(tail_values, value)
        if k > 0:
            parent[i] = tails[k - 1]
        if k == len(tails):
            tails.append(i)
            tail_values.append(value)
        else:
            tails[k] = i
            tail_values[k] = value
    kept: set[int] = set()
    i = tails[-1] if tails else -1
    while i >= 0:
        kept.add(i)
        i = parent[i]
    return kept


def compute_diff(
    old: ChatContext | Iterable[Item], new: ChatContext | Iterable[Item]
) -> ContextDiff:
    """The removes, creates and rewrites that turn ``old`` into ``new``.

    Ids must be unique within each side (a :class:`ChatContext` guarantees it; a plain
    iterable is checked).
    """
    old_items = _items_of(old)
    new_items = _items_of(new)
    old_pos = {item.id: i for i, item in enumerate(old_items)}
    if len(old_pos) != len(old_items):
        raise ValueError("compute_diff: duplicate ids in the old context")
    if not isinstance(new, ChatContext) and len({it.id for it in new_items}) != len(new_items):
        raise ValueError("compute_diff: duplicate ids in the new context")

    common_new_idx: list[int] = []
    common_old_pos: list[int] = []
    get = old_pos.get
    for j, item in enumerate(new_items):
        i = get(item.id)
        if i is not None:
            common_new_idx.append(j)
            common_old_pos.append(i)

    # Survivors that kept their relative order stay. Without moves (the usual edit:
    # deletes, inserts, rewrites) every common item stays and the LIS is not needed.
    old_kept = bytearray(len(old_items))
    new_kept = bytearray(len(new_items))
    stay: Iterable[int]
    if all(map(lt, common_old_pos, common_old_pos[1:])):
        stay = range(len(common_old_pos))
    else:
        stay = sorted(longest_increasing_run(common_old_pos))
    for k in stay:
        old_kept[common_old_pos[k]] = 1
        new_kept[common_new_idx[k]] = 1

    diff = ContextDiff()
    diff.to_remove.extend(
        item.id for item, kept in zip(old_items, old_kept, strict=False) if not kept
    )
    prev: str | None = None
    for item, kept in zip(new_items, new_kept, strict=False):
        if not kept:
            diff.to_create.append((prev, item.id))
        else:
            before = old_items[old_pos[item.id]]
            if before is not item and before != item:
                diff.to_update.append((prev, item.id))
        prev = item.id
    return diff


def apply_diff(
    old: ChatContext | Iterable[Item], new: ChatContext | Iterable[Item], diff: ContextDiff
) -> ChatContext:
    """Apply ``diff`` to ``old``, taking created and rewritten items' content from ``new``.

    The reference semantics of a diff, used by tests and by tools that replay one.
    """
    source = {item.id: item for item in _items_of(new)}
    result = ChatContext(_items_of(old))
    for item_id in diff.to_remove:
        result.remove(item_id)
    for _, item_id in diff.to_update:
        result.replace(source[item_id])
    for prev, item_id in diff.to_create:
        result.insert_after(prev, source[item_id])
    return result
