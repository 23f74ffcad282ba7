"""What LiveKit has observed: the base of a LiveKit push, derived item by item.

accord merges every push three ways against the writer's *base*, the conversation as
the writer last saw it, and deletes only what the base held and the writer removed
(docs/architecture.md, "The principle"). accord's own contexts carry their base; LiveKit's
``update_chat_ctx(ctx)`` carries none, and LiveKit's ``ChatContext.copy()`` would drop
anything attached to the context. The ids in the context are all there is, so the
adapter keeps, for every id, what LiveKit had observed when it held it, and derives the
base from that. A LiveKit context comes from one of two lineages:

- **A snapshot of this session** (``session.chat_ctx``, what LiveKit's ``AgentActivity``
  copies before it adds a typed user turn, tool outputs or a spoken message): every
  item object the adapter hands out in a snapshot remembers the engine snapshot it was
  made from (by object identity, held weakly), and ``copy()`` keeps the objects. A
  context holding such objects has the newest of their snapshots as its base, exactly
  as accord's own contexts have.
- **The agent's own context** (``agent.chat_ctx``: LiveKit assembles it from the events
  the adapter emits, and context policies edit it and push it with
  ``agent.update_chat_ctx``). Its items are LiveKit's objects. Here each id gets a
  *seen* stamp from one counter, at the moment LiveKit's agent context takes the item
  in: a spoken user turn when its final transcript is emitted (LiveKit records it in
  that very callback); a function call once LiveKit has pulled it from the generation's
  function stream (it records the call as the tool starts); an assistant message once
  LiveKit has read it to the end, its text and, when LiveKit plays it, its audio (it
  records the message once forwarded); items LiveKit made and pushed itself, when the
  push returns; and everything the adapter writes back into a pushed agent context. A
  push's *horizon* is the newest stamp among its ids; its base is every item stamped at
  or before the horizon. An item stamped later, or never (a turn whose transcript never
  came, a call LiveKit never pulled), is not in the base: a push that lacks it keeps
  it. A stale context can delete only what it provably held.

Content follows the same idea: each id keeps the versions LiveKit was shown or pushed,
compared on what a LiveKit item can show (:func:`.convert.view`). A pushed copy equal
to one of them is not an edit, whatever the server holds since (a transcript, a
truncation: the server's change wins); anything else is the writer's edit, and the
merge rewrites the item. Order is never read from the agent's context: LiveKit orders
it by creation time, not by the server's anchors, so its base lists its items in its
own order and the merge sees no move.

Which way the approximations err. LiveKit sometimes takes an item in before its stamp
(the placeholder it copies from ``remote_item_added`` when the item lands at its
context's tail): that only makes a base smaller, so such an item, dropped by a policy
before it was stamped, is kept rather than deleted. The other way needs three things at
once: LiveKit held no placeholder for an assistant message (its context's tail was a
local item, or an item the server does not have), a policy pushed the agent's context
after the message was stamped but before LiveKit recorded it (the last moments of its
playback), and that context held an item stamped even later. The message is then in
the base though not in the context, and the push deletes it, as LiveKit's own plugin
would. Contexts pushed straight to the session rather than through
``Agent.update_chat_ctx`` are taken to be the agent's own when they hold none of the
adapter's snapshot objects: what is written back into them counts as seen.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from livekit.agents import llm

from accord.integrations.livekit.convert import View, from_livekit, to_livekit, view
from accord.items import ChatContext, ContextBase, Item

MAX_VERSIONS = 8  # versions kept per id (a message's text grows, then settles)


@dataclass(frozen=True, slots=True)
class _Registered:
    """A LiveKit object handed out in a snapshot: the snapshot and the item it shows."""

    ref: weakref.ref[llm.ChatItem]
    base: ContextBase
    item: Item


@dataclass(frozen=True, slots=True)
class Derived:
    """A LiveKit push as accord sees it."""

    ctx: ChatContext  # the desired items, carrying the derived base
    from_snapshot: bool  # the snapshot lineage (else: the agent's own context)
    livekit_ids: tuple[str, ...]  # ids of the items LiveKit made itself (not ours)


@dataclass
class Observations:
    """Per id: when LiveKit's agent context took it in, and the versions it was shown."""

    aliases: dict[str, str] = field(default_factory=dict)  # rewritten id -> its new id
    first_met: dict[str, float] = field(default_factory=dict)  # id -> wall clock
    _clock: int = 0
    _seen: dict[str, int] = field(default_factory=dict)
    _versions: dict[str, dict[View, Item]] = field(default_factory=dict)
    _registered: dict[int, _Registered] = field(default_factory=dict)

    # -- recording ----------------------------------------------------------------------

    def shown(self, item: Item) -> None:
        """LiveKit was shown (or pushed) this version of an item."""
        self.first_met.setdefault(item.id, time.time())
        versions = self._versions.setdefault(item.id, {})
        if view(item) in versions:
            return
        versions[view(item)] = item
        if len(versions) > MAX_VERSIONS:
            del versions[next(iter(versions))]

    def seen(self, item_id: str) -> None:
        """LiveKit's agent context has taken the item in (the first time counts)."""
        if item_id not in self._seen:
            self._clock += 1
            self._seen[item_id] = self._clock

    def seen_stamp(self, item_id: str) -> int | None:
        return self._seen.get(item_id)

    def resolve(self, item_id: str) -> str:
        """The current id of ``item_id`` (rewrites can chain)."""
        hops = 0
        while item_id in self.aliases and hops < 64:
            item_id = self.aliases[item_id]
            hops += 1
        return item_id

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self, current: ChatContext) -> llm.ChatContext:
        """The session's conversation as a LiveKit context whose items remember it."""
        base = current.base
        items: list[llm.ChatItem] = []
        stamp = 0.0
        for item in current:
            self.shown(item)
            stamp = max(stamp, self.first_met.get(item.id, stamp))
            lk_item = to_livekit(item, created_at=stamp)
            if base is not None:
                self.register(lk_item, base, item)
            items.append(lk_item)
        return llm.ChatContext(items)

    def register(self, lk_item: llm.ChatItem, base: ContextBase, item: Item) -> None:
        key = id(lk_item)

        def forget(ref: weakref.ref[llm.ChatItem]) -> None:
            entry = self._registered.get(key)
            if entry is not None and entry.ref is ref:
                del self._registered[key]

        self._registered[key] = _Registered(weakref.ref(lk_item, forget), base, item)

    def registered(self, lk_item: llm.ChatItem) -> _Registered | None:
        entry = self._registered.get(id(lk_item))
        if entry is None or entry.ref() is not lk_item:
            return None
        return entry

    # -- the base of a push ---------------------------------------------------------------

    def derive(self, lk_items: Sequence[llm.ChatItem], current: ChatContext) -> Derived:
        """The accord context for a LiveKit push of ``lk_items`` (conversation items
        only), with the base its lineage implies. ``current``: the projected
        conversation now (for templates and base copies)."""
        entries = [(lk, self.registered(lk)) for lk in lk_items]
        bases = [entry.base for _lk, entry in entries if entry is not None]
        livekit_ids = tuple(lk.id for lk, entry in entries if entry is None)
        if bases:
            base = max(bases, key=lambda b: b.version)
            desired = [
                from_livekit(lk, entry.item if entry else self._current(lk.id, current))
                for lk, entry in entries
            ]
            return Derived(ChatContext(desired, base=base), True, livekit_ids)
        return Derived(self._agent_push(lk_items, current), False, livekit_ids)

    def _agent_push(self, lk_items: Sequence[llm.ChatItem], current: ChatContext) -> ChatContext:
        stamps = [self._seen[lk.id] for lk in lk_items if lk.id in self._seen]
        horizon = max(stamps, default=0)
        desired: list[Item] = []
        base: list[Item] = []
        named: set[str] = set()
        for lk in lk_items:
            known = self._versions.get(lk.id, {}).get(view(from_livekit(lk)))
            now = self._current(lk.id, current)
            item = from_livekit(lk, known or now)
            desired.append(item)
            named.add(self.resolve(lk.id))
            if lk.id in self._seen:  # every stamp of the push is <= horizon
                base.append(item if known is not None else (now or self._last(lk.id) or item))
        for item_id, stamp in self._seen.items():
            if stamp > horizon or self.resolve(item_id) in named:
                continue
            held = self._current(item_id, current)
            if held is not None:
                base.append(held)
                named.add(self.resolve(item_id))
        return ChatContext(desired, base=ContextBase(horizon, tuple(base)))

    def _current(self, item_id: str, current: ChatContext) -> Item | None:
        """The projected item for ``item_id`` (through rewrites), under that id."""
        item = current.get(self.resolve(item_id))
        if item is None or item.id == item_id:
            return item
        return replace(item, id=item_id)

    def _last(self, item_id: str) -> Item | None:
        versions = self._versions.get(item_id)
        return next(reversed(versions.values())) if versions else None
