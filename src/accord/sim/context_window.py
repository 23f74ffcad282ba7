"""What a response reads: the instructions and the conversation, cut to the window.

:class:`ContextWindow` joins the token estimate (sim/tokens.py), the truncation rules
(sim/truncation.py) and the store: before an in-band response starts it drops what the
session's ``truncation`` says to drop, and it tells the response its input and cached
token counts for ``usage``. After the response it remembers what the model read and
wrote, which is the next response's cacheable prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from accord.items import Item, Message
from accord.sim.errors import ServerError
from accord.sim.mcp_items import McpItem
from accord.sim.store import ConversationStore
from accord.sim.tokens import ZERO, Count, instruction_tokens, item_tokens, wire_tokens
from accord.sim.truncation import (
    DEFAULT_POST_INSTRUCTIONS,
    Entry,
    PromptCache,
    overflow_error,
    plan_cut,
    truncation_of,
)


@dataclass(frozen=True, slots=True)
class Prompt:
    """One response's input: its entries (fingerprint, tokens), their sum, the cached
    prefix, the ids truncation dropped for it, and the overflow that fails it."""

    entries: tuple[Entry, ...]
    tokens: Count
    cached: Count
    dropped: tuple[str, ...] = ()
    overflow: ServerError | None = None


def fingerprint(item: Item | McpItem) -> str:
    """Equal for an item the model would read the same way (same id, same content)."""
    return f"{item.id}:{hash(item)}"


def _unanswered_tail(entries: Sequence[Item | McpItem]) -> set[str]:
    """What the response answers, never dropped by a truncation: the last item, and the
    tool round it ends (the calls and outputs before it, up to a message)."""
    tail: set[str] = set()
    for item in reversed(entries):
        if tail and isinstance(item, Message):
            break
        tail.add(item.id)
    return tail


#: A memo entry: the item, its kind (below), the audio length looked up for it, its
#: prompt entry (fingerprint, tokens) and its size for the truncation (id, total).
_Memo = tuple[Item | McpItem, object, int | None, Entry, tuple[str, int]]
_FIXED = object()  # the item's tokens depend on the item alone
_HEARD = object()  # user audio without a length: the session's length of it counts
_MCP = object()  # an MCP item: counted by its JSON, no extra


@dataclass
class ContextWindow:
    """One session's context window over its store."""

    store: ConversationStore
    default_limit: int = DEFAULT_POST_INSTRUCTIONS
    # The length of committed user audio, which its item does not carry.
    audio_ms: Callable[[str], int | None] = lambda _id: None
    # Extra tokens of an item accord's Item cannot show (image parts), by item id.
    extra: Callable[[str], Count] = lambda _id: ZERO
    cache: PromptCache = field(default_factory=PromptCache)

    # Item id -> (the item, the audio length looked up for it, its tokens before the
    # extra, its fingerprint): items are frozen, so an entry holds while its item is the
    # very object the store holds (an edit makes a new one) and the looked-up audio
    # length is unchanged. A response reads every item, so each prompt recounted the
    # whole conversation (most of the simulator's CPU per turn at 1,000 sessions).
    _memo: dict[str, _Memo] = field(default_factory=dict, init=False, repr=False)
    _last_head: tuple[str, tuple[Mapping[str, Any], ...], Entry] | None = field(
        default=None, init=False, repr=False
    )

    def counted(self, item: Item | McpItem) -> Count:
        return self._read(item)[3][1]

    def _read(self, item: Item | McpItem) -> _Memo:
        """``item``'s memo entry, extra included (so its entry and size tuples are the
        memo's own: a prompt of a long conversation allocates none per item)."""
        item_id = item.id
        memo = self._memo.get(item_id)
        if memo is None or memo[0] is not item:  # an edit makes a new item
            memo = self._remember(item)
        elif memo[1] is _HEARD and memo[2] != self.audio_ms(item_id):
            memo = self._remember(item)  # user audio whose length the session learned
        if memo[1] is _MCP:
            return memo  # no extra: image parts are a message's
        extra = self.extra(item_id)
        if extra is ZERO or extra == ZERO:
            return memo
        count = memo[3][1] + extra
        return (item, memo[1], memo[2], (memo[3][0], count), (item_id, count.total))

    def _remember(self, item: Item | McpItem) -> _Memo:
        kind, heard = _FIXED, None
        if isinstance(item, McpItem):
            kind, base = _MCP, wire_tokens(item.fields)
        elif isinstance(item, Message) and item.audio and item.audio_ms is None:
            kind, heard = _HEARD, self.audio_ms(item.id)  # the session knows its length
            base = item_tokens(item if heard is None else replace(item, audio_ms=heard))
        else:
            base = item_tokens(item)
        entry = (fingerprint(item), base)
        memo = self._memo[item.id] = (item, kind, heard, entry, (item.id, base.total))
        return memo

    def _forget_unread(self, read: Sequence[Item | McpItem]) -> None:
        """Keep the memo to what prompts still read (deleted items' entries go)."""
        if len(self._memo) > 2 * len(read) + 64:
            keep = {item.id for item in read}
            self._memo = {k: v for k, v in self._memo.items() if k in keep}

    def prepare(
        self,
        session: Mapping[str, Any],
        instructions: str,
        tools: Sequence[Mapping[str, Any]],
        conversation: Sequence[Item | McpItem] | None = None,
    ) -> Prompt:
        """The prompt of a response: ``conversation`` None is in-band (the store's
        conversation, truncated first as the session says); a list is an out-of-band
        ``input``, read as given (assumed: the server does not truncate it)."""
        first = self._head(instructions, tools)
        head = first[1]
        dropped: tuple[str, ...] = ()
        if conversation is None:
            rule = truncation_of(session.get("truncation"), self.default_limit)
            now = self.store.entries()
            memos = [self._read(item) for item in now]
            answered = _unanswered_tail(now)
            in_flight = self.store.is_in_flight
            cut = plan_cut([m[4] for m in memos], rule, lambda i: i in answered or in_flight(i))
            if cut.over:
                overflow = overflow_error(cut.remaining, rule.limit)
                return Prompt((first,), head, ZERO, overflow=overflow)
            self.store.evict(cut.dropped)
            dropped = cut.dropped
        seen = self.store.entries() if conversation is None else conversation
        if dropped or conversation is not None:  # else the items just read, as read
            memos = [self._read(item) for item in seen]
        entries: list[Entry] = [first]
        text, audio, image = head.text, head.audio, head.image
        for memo in memos:
            entry = memo[3]
            entries.append(entry)
            count = entry[1]
            text, audio, image = text + count.text, audio + count.audio, image + count.image
        if conversation is None:
            self._forget_unread(seen)
        prompt = tuple(entries)
        return Prompt(prompt, Count(text, audio, image), self.cache.cached(prompt), dropped)

    def _head(self, instructions: str, tools: Sequence[Mapping[str, Any]]) -> Entry:
        """The instructions' entry: spelled and counted again only when they or the tools
        change (the tools are the session's own dicts, replaced, never edited, by an
        update; a response's are its own)."""
        last = self._last_head
        if (
            last is not None
            and last[0] == instructions
            and len(last[1]) == len(tools)
            and all(mine is theirs for mine, theirs in zip(last[1], tools, strict=True))
        ):
            return last[2]
        head = instruction_tokens(instructions, tools)
        spelled = json.dumps([instructions, list(tools)], sort_keys=True, default=str)
        first: Entry = (f"instructions:{hash(spelled)}", head)
        self._last_head = (instructions, tuple(tools), first)
        return first

    def remember(self, prompt: Prompt, output_ids: Sequence[str]) -> None:
        """An in-band response is done: its input and its output items (as the store
        holds them now) are the prefix the next response finds cached."""
        written = [
            self._read(item)[3]
            for item in (self.store.get(i) or self.store.get_mcp(i) for i in output_ids)
            if item is not None
        ]
        self.cache.remember(prompt.entries, written)
