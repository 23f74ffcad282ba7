"""Item ids: wire-safe generation and an alias map for ids the server would refuse.

The Realtime server accepts client-chosen item ids of at most 32 characters drawn from
``[A-Za-z0-9_-]`` (longer ids get "string too long", others ``invalid_value``). A create
without a client id cannot be matched to its ``conversation.item.added`` (which does not
echo the client's ``event_id``), so accord always chooses the id itself. Frameworks use
ids that break these rules (UUIDs with dots, long composite keys), so foreign ids are
mapped to wire ids through :class:`IdAliases` and back.

Generation is seeded so that a recorded session replays with the same ids.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

MAX_ID_LENGTH = 32
_WIRE_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def is_wire_safe(item_id: str) -> bool:
    """True when the server accepts ``item_id`` as a client-chosen id."""
    return bool(_WIRE_SAFE.match(item_id))


class IdGenerator:
    """Unique, wire-safe ids: ``<prefix>_<counter><random suffix>``.

    The counter makes ids unique within one generator; the random suffix (from a seeded
    RNG) keeps ids of two generators with different seeds apart. Same seed, same ids.
    """

    def __init__(self, seed: int | None = None, *, prefix: str = "acc") -> None:
        if not is_wire_safe(prefix) or len(prefix) > 8:
            raise ValueError(f"id prefix must be wire-safe and at most 8 characters: {prefix!r}")
        self._prefix = prefix
        self._rng = random.Random(seed)
        self._counter = 0
        self._checked = {prefix}  # prefixes already found valid: ids are made per op

    def new(self, prefix: str | None = None) -> str:
        """A fresh id, optionally with another prefix (``msg``, ``fc``, ``call``...)."""
        pre = self._prefix if prefix is None else prefix
        if pre not in self._checked:
            if not is_wire_safe(pre) or len(pre) > 8:
                raise ValueError(f"id prefix must be wire-safe and at most 8 characters: {pre!r}")
            self._checked.add(pre)
        self._counter += 1
        suffix = f"{self._rng.getrandbits(40):010x}"
        return f"{pre}_{self._counter:x}{suffix}"


class IdAliases:
    """A two-way map between foreign ids and the wire ids that stand for them.

    Wire-safe ids map to themselves and are not stored. Re-mapping a foreign id gives the
    same wire id every time, so a context pushed twice names the same server items.
    """

    def __init__(self, generator: IdGenerator | None = None) -> None:
        self._gen = generator or IdGenerator(prefix="alias")
        self._to_wire: dict[str, str] = {}
        self._to_local: dict[str, str] = {}

    def to_wire(self, item_id: str) -> str:
        """The wire id for ``item_id``, allocating one for a foreign id on first use."""
        if not item_id:
            raise ValueError("an item id must be a non-empty string")
        if is_wire_safe(item_id):
            return item_id
        wire = self._to_wire.get(item_id)
        if wire is None:
            wire = self._gen.new("alias")
            self._to_wire[item_id] = wire
            self._to_local[wire] = item_id
        return wire

    def to_local(self, wire_id: str) -> str:
        """The id the application knows for ``wire_id`` (itself when never aliased)."""
        return self._to_local.get(wire_id, wire_id)

    def __len__(self) -> int:
        return len(self._to_wire)

    def forget(self, still_named: Callable[[str], bool], kept: int) -> None:
        """Drop the pairs of wire ids ``still_named`` says nothing names any more, but
        the latest ``kept`` pairs: an application that pushes a foreign id again soon
        after its item left (a stale context) still maps it to the same wire id."""
        older = list(self._to_wire.items())[: max(0, len(self._to_wire) - kept)]
        for foreign, wire in older:
            if not still_named(wire):
                del self._to_wire[foreign]
                del self._to_local[wire]

    def items(self) -> list[tuple[str, str]]:
        """(foreign id, wire id) pairs, in allocation order."""
        return list(self._to_wire.items())
