"""Application ids <-> ids the server accepts (race R22), for whole items.

Framework ids longer than 32 characters or outside ``[A-Za-z0-9_-]`` go through an
alias map on the way out and come back on the way in, call ids included, so the
application keeps seeing its own ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from accord.engine.merge import starts_with
from accord.ids import IdAliases, IdGenerator
from accord.items import FunctionCall, FunctionCallOutput, Item


def _convert(item: Item, convert: Callable[[str], str]) -> Item:
    new_id = convert(item.id)
    if isinstance(item, FunctionCall | FunctionCallOutput):
        call_id = convert(item.call_id)
        if new_id != item.id or call_id != item.call_id:
            return replace(item, id=new_id, call_id=call_id)
        return item
    return item if new_id == item.id else replace(item, id=new_id)


class WireIds:
    def __init__(self, seed: int | None) -> None:
        self.aliases = IdAliases(IdGenerator(seed, prefix="alias"))

    def to_wire(self, item: Item) -> Item:
        return _convert(item, self.aliases.to_wire)

    def to_local(self, item: Item) -> Item:
        return _convert(item, self.aliases.to_local) if len(self.aliases) else item

    def all_to_wire(self, items: Sequence[Item], projected: Sequence[Item]) -> list[Item]:
        """``items`` with wire ids. Those that are the projected objects themselves (a
        context built from the engine's snapshot) already are: only the rest is converted."""
        if starts_with(items, projected):
            kept = len(projected)
            return [*projected, *(self.to_wire(i) for i in items[kept:])]
        return [self.to_wire(item) for item in items]

    def all_to_local(self, items: Sequence[Item]) -> tuple[Item, ...]:
        """Every item with the application's ids; without a foreign id at all, the very
        same items (the mirror's snapshot tuple itself: a context read costs no copy)."""
        if not len(self.aliases):
            return tuple(items)
        return tuple(self.to_local(item) for item in items)

    def id_to_wire(self, item_id: str) -> str:
        return self.aliases.to_wire(item_id)

    def forget(self, still_named: Callable[[str], bool], kept: int) -> None:
        """Forget foreign ids nothing still names (engine/prune.py says when)."""
        self.aliases.forget(still_named, kept)
