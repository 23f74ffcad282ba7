"""The server's conversation as the client knows it from acknowledgements.

A doubly linked list keyed by id: insert-after and delete are O(1), and a deleted item
leaves a tombstone that remembers what stood before it. The server has been seen to send
``conversation.item.added`` anchored on an item it confirmed deleted a moment earlier
(race R6); such an item lands after the deleted item's surviving predecessor, reported,
never dropped. An anchor the mirror never knew at all is placed at the end and reported.

A tombstone is only needed while something can still anchor on the deleted item: an
open operation, a response the server is running, a restore. Once none can (the engine
says when, engine/prune.py), :meth:`Mirror.let_go` drops the tombstones' nodes and items
but those of the last ``TOMBSTONES_KEPT`` deletions (a server has been seen to add an
item to a response it had just finished: such an item may still name one), and keeps
only the ids of the rest, the last ``deleted_ids_kept`` of them, so that an id deleted
recently is still known as deleted (never resurrected, put back under a fresh id) while
a long session's memory stays bounded by its live conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from accord.items import Item

DELETED_IDS_KEPT = 256  # ids still known as deleted once their tombstones are let go
TOMBSTONES_KEPT = 16  # the latest deletions keep their whole tombstones


@dataclass(slots=True)
class _Node:
    item: Item
    prev: _Node | None = None
    next: _Node | None = None
    alive: bool = True


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an added item landed and whether its anchor had to be resolved."""

    previous_item_id: str | None
    anchor_was_deleted: bool = False
    anchor_was_unknown: bool = False


class Mirror:
    """Ordered, indexed by id, with tombstones for deleted ids."""

    def __init__(self, deleted_ids_kept: int = DELETED_IDS_KEPT) -> None:
        self._head: _Node | None = None
        self._tail: _Node | None = None
        self._live: dict[str, _Node] = {}
        self._dead: dict[str, _Node] = {}
        # The live items in order, built when first read after a change: a push or a
        # context read between two server events reuses it instead of walking the list.
        self._snapshot: tuple[Item, ...] | None = None
        # Ids whose tombstones were let go, oldest first (a dict: ordered, O(1) lookup).
        self._gone: dict[str, None] = {}
        self._gone_kept = deleted_ids_kept
        self.deletions = 0  # deletes so far: the engine's pruner sweeps when it moved

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._live

    def __iter__(self) -> Iterator[Item]:
        node = self._head
        while node is not None:
            yield node.item
            node = node.next

    def items(self) -> list[Item]:
        return list(self.snapshot())

    def snapshot(self) -> tuple[Item, ...]:
        """The live items in order; the same tuple until the mirror changes (so a caller
        can tell by identity that nothing changed in between)."""
        if self._snapshot is None:
            self._snapshot = tuple(self)
        return self._snapshot

    def ids(self) -> list[str]:
        return [item.id for item in self]

    def get(self, item_id: str) -> Item | None:
        node = self._live.get(item_id)
        return None if node is None else node.item

    def was_deleted(self, item_id: str) -> bool:
        dead = item_id in self._dead or item_id in self._gone
        return dead and item_id not in self._live

    def tombstones(self) -> int:
        """Deleted items whose nodes are still kept (:meth:`let_go` frees the older)."""
        return len(self._dead)

    def previous_id(self, item_id: str) -> str | None:
        node = self._live[item_id].prev
        return None if node is None else node.item.id

    def next_id(self, item_id: str | None) -> str | None:
        """The id after ``item_id`` (None: the first item)."""
        node = self._head if item_id is None else self._live[item_id].next
        return None if node is None else node.item.id

    def surviving_predecessor(self, item_id: str) -> str | None:
        """For a deleted id, the live item that stood before it (following tombstones);
        for a live id, its predecessor. None: the start (or an unknown id)."""
        node = self._live.get(item_id) or self._dead.get(item_id)
        if node is None:
            return None
        node = node.prev
        while node is not None and not node.alive:
            node = node.prev
        return None if node is None else node.item.id

    def last_id(self) -> str | None:
        return None if self._tail is None else self._tail.item.id

    # -- editing ------------------------------------------------------------------------

    def add(self, item: Item, previous_item_id: str | None) -> Placement:
        """Place an acknowledged item after ``previous_item_id`` (None: first).

        A re-added live id (a duplicate ``added``) only updates the content in place.
        """
        self._snapshot = None
        existing = self._live.get(item.id)
        if existing is not None:
            existing.item = item
            prev = existing.prev
            return Placement(None if prev is None else prev.item.id)
        anchor, placement = self._resolve_anchor(previous_item_id)
        node = _Node(item)
        self._link_after(anchor, node)
        self._live[item.id] = node
        self._dead.pop(item.id, None)
        self._gone.pop(item.id, None)
        return placement

    def _resolve_anchor(self, previous_item_id: str | None) -> tuple[_Node | None, Placement]:
        if previous_item_id is None:
            return None, Placement(None)
        live = self._live.get(previous_item_id)
        if live is not None:
            return live, Placement(previous_item_id)
        dead = self._dead.get(previous_item_id)
        if dead is not None:
            node = dead.prev
            while node is not None and not node.alive:
                node = node.prev
            return node, Placement(None if node is None else node.item.id, anchor_was_deleted=True)
        return self._tail, Placement(
            None if self._tail is None else self._tail.item.id, anchor_was_unknown=True
        )

    def update(self, item: Item) -> bool:
        """New content for a live item (a transcript, a truncation, streamed text)."""
        node = self._live.get(item.id)
        if node is None:
            return False
        node.item = item
        self._snapshot = None
        return True

    def delete(self, item_id: str) -> Item | None:
        """Unlink ``item_id``; its tombstone keeps a link to its predecessor."""
        node = self._live.pop(item_id, None)
        if node is None:
            return None
        self._snapshot = None
        before, after = node.prev, node.next
        if before is None:
            self._head = after
        else:
            before.next = after
        if after is None:
            self._tail = before
        else:
            after.prev = before
        node.alive = False
        node.next = None  # the tombstone keeps only its predecessor link
        self._dead[item_id] = node
        self.deletions += 1
        return node.item

    def let_go(self) -> None:
        """Nothing in flight can anchor on a deleted item: drop the tombstones' nodes
        (their items and links) but the last ``TOMBSTONES_KEPT``, and remember the last
        ``deleted_ids_kept`` ids of the others only.

        Frees them: a live node never links to a dead one (delete relinks its
        neighbours), and a tombstone links to the item before it when it was deleted,
        which was alive then, so is alive now or was deleted later (and is kept too)."""
        excess = len(self._dead) - TOMBSTONES_KEPT
        if excess <= 0:
            return
        dropped = list(self._dead)[:excess]  # in order of deletion
        for item_id in dropped:
            del self._dead[item_id]
            self._gone.pop(item_id, None)
            self._gone[item_id] = None
        excess = len(self._gone) - self._gone_kept
        if excess > 0:
            for item_id in list(self._gone)[:excess]:
                del self._gone[item_id]

    def clear(self) -> None:
        """A new server session after a reconnect: no live item, but the tombstones stay,
        so an id deleted once is still known as deleted (never resurrected)."""
        node = self._head
        while node is not None:
            node.alive = False
            node = node.next
        self._head = self._tail = None
        self._live = {}
        self._snapshot = None

    def _link_after(self, anchor: _Node | None, node: _Node) -> None:
        after = self._head if anchor is None else anchor.next
        node.prev, node.next = anchor, after
        if anchor is None:
            self._head = node
        else:
            anchor.next = node
        if after is None:
            self._tail = node
        else:
            after.prev = node
