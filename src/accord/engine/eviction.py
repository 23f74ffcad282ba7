"""Items the server may have dropped by itself: doubt, confirm, and let them go.

With ``session.truncation`` other than ``"disabled"`` the server drops the oldest items
of the conversation when a response starts over its token limit, and says nothing (no
``conversation.item.deleted``). A mirror that still holds them would send deletes the
server refuses and anchor creates on items that are not there. So, whenever the server
may cut (an in-band response is asked for, or starts), the engine applies the server's
own rule (:func:`accord.truncation.plan_cut`) to its mirror with the token estimate of
:mod:`accord.tokens`, lowered by :data:`MARGIN` because the real tokenizer is not the
estimate: every item the rule could drop becomes *doubtful*. A doubtful item is asked
for with ``conversation.item.retrieve``, sent once ``response.created`` has come (the
server cuts as the response starts; asked earlier, it could answer before its cut).
Until the answer comes, no operation may name it: a delete of it or a create anchored
on it waits (:meth:`Doubts.blocks`). The server
answers with the item (it is there: the doubt goes) or with an unknown-item error (it
was dropped: it leaves the mirror and the engine reports
:class:`~accord.engine.events.ItemsEvicted`). Afterwards a delete of it is moot and an
anchor on it moves to its surviving predecessor, as for any item gone from the mirror.

``usage`` is the second witness: when a response reports fewer input tokens than the
one before it while the engine deleted nothing, something left the conversation that
the estimate did not foresee, and the oldest item is put in doubt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from accord.items import Item
from accord.tokens import item_tokens
from accord.truncation import Truncation, plan_cut

# The engine doubts items from this share of the server's limit on: the estimate can
# count fewer tokens than the server's tokenizer, and a doubt costs only a retrieve.
MARGIN = 0.8


@dataclass
class Doubts:
    """The truncation in force, the items in doubt and the probes asking about them."""

    truncation: Truncation = field(default_factory=Truncation)
    doubtful: set[str] = field(default_factory=set)
    probes: dict[str, str] = field(default_factory=dict)  # retrieve event id -> item id
    last_input_tokens: int | None = None
    deleted_since_usage: bool = False
    # id -> the item object last sized and its estimate: two flat dicts, not a dict of
    # (item, n) pairs (a pair per item is one more object for the collector to walk).
    _sized: dict[str, Item] = field(default_factory=dict)
    _tokens: dict[str, int] = field(default_factory=dict)
    _total: int = 0  # the sum of _tokens

    def _refresh(self, items: list[Item]) -> int:
        """Bring the estimates up to ``items`` (an item keeps its estimate while it is the
        same, or an equal, object; the cache holds only the items given, the live
        conversation, so it never outgrows it) and return their total."""
        old_items, old_tokens = self._sized, self._tokens
        known = list(old_items.values())
        if len(known) <= len(items) and known == items[: len(known)]:
            # Unchanged or appended to (the usual turn): one C-level comparison, by
            # identity, and an estimate for each new item only.
            for item in items[len(known) :]:
                added = item_tokens(item).total
                old_items[item.id], old_tokens[item.id] = item, added
                self._total += added
            return self._total
        kept_items: dict[str, Item] = {}
        tokens: dict[str, int] = {}
        for item in items:
            n = old_tokens.get(item.id)
            if n is None or old_items.get(item.id) is not item:
                n = item_tokens(item).total
            kept_items[item.id] = item
            tokens[item.id] = n
        self._sized, self._tokens = kept_items, tokens
        self._total = sum(tokens.values())
        return self._total

    def sized(self, items: list[Item]) -> list[tuple[str, int]]:
        """Each item's estimate, in order."""
        self._refresh(items)
        return self._pairs(items)

    def _pairs(self, items: list[Item]) -> list[tuple[str, int]]:
        tokens = self._tokens
        return [(item.id, tokens[item.id]) for item in items]

    def may_cut(self, items: list[Item], keep: Callable[[str], bool]) -> list[str]:
        """Items the server's rule could drop now and that are not in doubt yet."""
        rule = self.truncation
        if rule.mode == "disabled" or not items:
            return []
        # The server's rule with a lower limit: it doubts from MARGIN of the limit on,
        # and as far down as the server would cut (its retention ratio of that limit).
        lowered = max(1, math.floor(rule.limit * MARGIN))
        if self._refresh(items) <= lowered:
            return []  # under the limit: the rule drops nothing (plan_cut's first test)
        doubting = Truncation(rule.mode, lowered, rule.retention_ratio)
        cut = plan_cut(self._pairs(items), doubting, keep)  # refreshed just above
        return [i for i in cut.dropped if i not in self.doubtful]

    def usage_says_dropped(self, input_tokens: int | None) -> bool:
        """Fewer input tokens than the response before, with no delete of ours between."""
        if input_tokens is None:
            return False
        before, self.last_input_tokens = self.last_input_tokens, input_tokens
        dropped = before is not None and input_tokens < before and not self.deleted_since_usage
        self.deleted_since_usage = False
        return dropped

    def doubt(self, item_ids: Iterable[str], probe_ids: Iterable[str]) -> None:
        for item_id, probe in zip(item_ids, probe_ids, strict=True):
            self.doubtful.add(item_id)
            self.probes[probe] = item_id

    def settled(self, probe: str) -> str | None:
        """The item a probe asked about, no longer in doubt."""
        item_id = self.probes.pop(probe, None)
        if item_id is not None:
            self.doubtful.discard(item_id)
        return item_id

    def blocks(self, item_id: str | None) -> bool:
        return item_id is not None and item_id in self.doubtful

    def forget(self) -> None:
        """A new server session (reconnect): nothing of the old one is in doubt."""
        self.doubtful.clear()
        self.probes.clear()
        self.last_input_tokens = None
        self.deleted_since_usage = False
