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

    def counted(self, item: Item | McpItem) -> Count:
        if isinstance(item, McpItem):
            return wire_tokens(item.fields)
        if isinstance(item, Message) and item.audio and item.audio_ms is None:
            item = replace(item, audio_ms=self.audio_ms(item.id))
        return item_tokens(item) + self.extra(item.id)

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
        head = instruction_tokens(instructions, tools)
        spelled = json.dumps([instructions, list(tools)], sort_keys=True, default=str)
        first: Entry = (f"instructions:{hash(spelled)}", head)
        dropped: tuple[str, ...] = ()
        if conversation is None:
            rule = truncation_of(session.get("truncation"), self.default_limit)
            now = self.store.entries()
            sized = [(item.id, self.counted(item).total) for item in now]
            answered = _unanswered_tail(now)
            cut = plan_cut(sized, rule, lambda i: i in answered or self.store.is_in_flight(i))
            if cut.over:
                overflow = overflow_error(cut.remaining, rule.limit)
                return Prompt((first,), head, ZERO, overflow=overflow)
            self.store.evict(cut.dropped)
            dropped = cut.dropped
        seen = self.store.entries() if conversation is None else conversation
        entries = (first, *((fingerprint(item), self.counted(item)) for item in seen))
        total = sum((count for _, count in entries), ZERO)
        return Prompt(entries, total, self.cache.cached(entries), dropped)

    def remember(self, prompt: Prompt, output_ids: Sequence[str]) -> None:
        """An in-band response is done: its input and its output items (as the store
        holds them now) are the prefix the next response finds cached."""
        written = [
            (fingerprint(item), self.counted(item))
            for item in (self.store.get(i) or self.store.get_mcp(i) for i in output_ids)
            if item is not None
        ]
        self.cache.remember(prompt.entries, written)
