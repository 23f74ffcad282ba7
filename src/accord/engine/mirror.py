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


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an added item landed and whether its anchor had to be resolved."""

    previous_item_id: str | None
    anchor_was_deleted: bool = False
    anchor_was_unknown: bool = False


class Mirror:
    """Ordered, indexed by id, with tombstones for deleted ids.

    The list is kept in flat dicts keyed by id (no node object per item: a long-lived
    object per item is what a full garbage collection walks, and with thousands of
    sessions the nodes were a sixth of the process's heap). Each placement of an id is
    a *node* with its own serial number, so an id deleted and added again is a new node,
    and a tombstone's link names the node that stood before it, not merely the id.
    """

    def __init__(self, deleted_ids_kept: int = DELETED_IDS_KEPT) -> None:
        self._head: str | None = None
        self._tail: str | None = None
        self._live: dict[str, Item] = {}  # live id -> item
        self._prev: dict[str, str | None] = {}  # live id -> the live id before it
        self._next: dict[str, str | None] = {}  # live id -> the live id after it
        self._serial: dict[str, int] = {}  # live id -> the serial of its node
        self._alive: dict[int, str] = {}  # the serial of a live node -> its id
        self._serials = 0
        # Deleted ids whose tombstones are kept -> the serial of their node, in order of
        # deletion; and every node no longer alive that a tombstone's chain can still
        # reach -> the serial of the node before it when it stopped being alive.
        self._dead: dict[str, int] = {}
        self._dead_prev: dict[int, int | None] = {}
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
        return iter(self.snapshot())

    def items(self) -> list[Item]:
        return list(self.snapshot())

    def snapshot(self) -> tuple[Item, ...]:
        """The live items in order; the same tuple until the mirror changes (so a caller
        can tell by identity that nothing changed in between)."""
        if self._snapshot is None:
            live = self._live
            self._snapshot = tuple([live[item_id] for item_id in self.ids()])
        return self._snapshot

    def ids(self) -> list[str]:
        out: list[str] = []
        item_id = self._head
        following = self._next
        while item_id is not None:
            out.append(item_id)
            item_id = following[item_id]
        return out

    def get(self, item_id: str) -> Item | None:
        return self._live.get(item_id)

    def was_deleted(self, item_id: str) -> bool:
        dead = item_id in self._dead or item_id in self._gone
        return dead and item_id not in self._live

    def tombstones(self) -> int:
        """Deleted items whose nodes are still kept (:meth:`let_go` frees the older)."""
        return len(self._dead)

    def previous_id(self, item_id: str) -> str | None:
        return self._prev[item_id]

    def next_id(self, item_id: str | None) -> str | None:
        """The id after ``item_id`` (None: the first item)."""
        return self._head if item_id is None else self._next[item_id]

    def surviving_predecessor(self, item_id: str) -> str | None:
        """For a deleted id, the live item that stood before it (following tombstones);
        for a live id, its predecessor. None: the start (or an unknown id)."""
        if item_id in self._live:
            return self._prev[item_id]  # a live node never links to a dead one
        serial = self._dead.get(item_id)
        if serial is None:
            return None
        return self._first_alive(self._dead_prev.get(serial))

    def last_id(self) -> str | None:
        return self._tail

    def _first_alive(self, serial: int | None) -> str | None:
        """The id of the first live node from ``serial`` back (None: the start)."""
        while serial is not None:
            item_id = self._alive.get(serial)
            if item_id is not None:
                return item_id
            serial = self._dead_prev.get(serial)
        return None

    # -- editing ------------------------------------------------------------------------

    def add(self, item: Item, previous_item_id: str | None) -> Placement:
        """Place an acknowledged item after ``previous_item_id`` (None: first).

        A re-added live id (a duplicate ``added``) only updates the content in place.
        """
        item_id = item.id
        snapshot, self._snapshot = self._snapshot, None
        if item_id in self._live:
            self._live[item_id] = item
            return Placement(self._prev[item_id])
        anchor, placement = self._resolve_anchor(previous_item_id)
        if anchor is not None and anchor == self._tail and snapshot is not None:
            self._snapshot = (*snapshot, item)  # an append: the list need not be walked
        self._serials += 1
        self._live[item_id] = item
        self._serial[item_id] = self._serials
        self._alive[self._serials] = item_id
        self._link_after(anchor, item_id)
        self._dead.pop(item_id, None)
        self._gone.pop(item_id, None)
        return placement

    def _resolve_anchor(self, previous_item_id: str | None) -> tuple[str | None, Placement]:
        if previous_item_id is None:
            return None, Placement(None)
        if previous_item_id in self._live:
            return previous_item_id, Placement(previous_item_id)
        dead = self._dead.get(previous_item_id)
        if dead is not None:
            anchor = self._first_alive(self._dead_prev.get(dead))
            return anchor, Placement(anchor, anchor_was_deleted=True)
        return self._tail, Placement(self._tail, anchor_was_unknown=True)

    def update(self, item: Item) -> bool:
        """New content for a live item (a transcript, a truncation, streamed text)."""
        before = self._live.get(item.id)
        if before is None:
            return False
        self._live[item.id] = item
        snapshot = self._snapshot
        if snapshot is not None:  # new content in place: the same order, one item swapped
            # Found by identity from the end, where updates land (streamed text, a
            # transcript): tuple.index would call the dataclass __eq__ on every item
            # before it.
            at = len(snapshot) - 1
            while snapshot[at] is not before:
                at -= 1
            self._snapshot = (*snapshot[:at], item, *snapshot[at + 1 :])
        return True

    def delete(self, item_id: str) -> Item | None:
        """Unlink ``item_id``; its tombstone keeps a link to its predecessor."""
        item = self._live.pop(item_id, None)
        if item is None:
            return None
        self._snapshot = None
        serial = self._serial.pop(item_id)
        del self._alive[serial]
        before, after = self._prev.pop(item_id), self._next.pop(item_id)
        if before is None:
            self._head = after
        else:
            self._next[before] = after
        if after is None:
            self._tail = before
        else:
            self._prev[after] = before
        # The tombstone keeps only its predecessor link (the node before it, now).
        self._dead_prev[serial] = None if before is None else self._serial[before]
        self._dead[item_id] = serial
        self.deletions += 1
        return item

    def let_go(self) -> None:
        """Nothing in flight can anchor on a deleted item: drop the tombstones but the
        last ``TOMBSTONES_KEPT``, and remember the last ``deleted_ids_kept`` ids of the
        others only.

        A tombstone links to the node before it when it was deleted, which was alive
        then, so is alive now or stopped being alive later: the links a kept tombstone
        can follow are kept (:meth:`_forget_unreachable`), the rest are dropped."""
        excess = len(self._dead) - TOMBSTONES_KEPT
        if excess > 0:
            dropped = list(self._dead)[:excess]  # in order of deletion
            for item_id in dropped:
                del self._dead[item_id]
                self._gone.pop(item_id, None)
                self._gone[item_id] = None
            excess = len(self._gone) - self._gone_kept
            if excess > 0:
                for item_id in list(self._gone)[:excess]:
                    del self._gone[item_id]
        self._forget_unreachable()

    def clear(self) -> None:
        """A new server session after a reconnect: no live item, but the tombstones stay,
        so an id deleted once is still known as deleted (never resurrected)."""
        for item_id, serial in self._serial.items():
            before = self._prev[item_id]
            self._dead_prev[serial] = None if before is None else self._serial[before]
        self._head = self._tail = None
        self._live, self._prev, self._next, self._serial, self._alive = {}, {}, {}, {}, {}
        self._snapshot = None
        self._forget_unreachable()

    def _forget_unreachable(self) -> None:
        """Keep the links of the nodes no longer alive that a kept tombstone can reach."""
        kept: dict[int, int | None] = {}
        for serial in self._dead.values():
            node: int | None = serial
            while node is not None and node not in kept and node not in self._alive:
                before = self._dead_prev.get(node)
                kept[node] = before
                node = before
        self._dead_prev = kept

    def _link_after(self, anchor: str | None, item_id: str) -> None:
        after = self._head if anchor is None else self._next[anchor]
        self._prev[item_id], self._next[item_id] = anchor, after
        if anchor is None:
            self._head = item_id
        else:
            self._next[anchor] = item_id
        if after is None:
            self._tail = item_id
        else:
            self._prev[after] = item_id
