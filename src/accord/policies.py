"""Context policies: the callers that race the conversation, made safe by the engine.

Each policy reads a snapshot (``session.chat_ctx``, which carries its base), computes an
edited copy, and the runner pushes it with ``update_chat_ctx`` on the policy's own
schedule, concurrently with responses and tools. Because the copy keeps its base, items
that arrive meanwhile (a function call, a transcript, a reply) are never deleted by it:
that is the whole point of accord (docs/architecture.md, "The principle").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.tokens import item_tokens

Trigger = Literal["turn", "tool_started", "tool_finished"]
Summarizer = Callable[[Sequence[Item]], Awaitable[str]]


class ContextPolicy(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def trigger(self) -> Trigger | tuple[Trigger, ...]:
        """When the runner runs it."""
        ...

    @property
    def every(self) -> int: ...

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        """The edited copy of ``ctx`` (same base), or None for no change."""
        ...


def turn_starts(ctx: ChatContext) -> list[int]:
    """Positions of user messages: where each turn begins."""
    return [
        i for i, item in enumerate(ctx.items) if isinstance(item, Message) and item.role == "user"
    ]


def pair_safe_cut(items: Sequence[Item], cut: int) -> int:
    """Move ``cut`` earlier so no kept output loses its call (never split a pair)."""
    calls = {item.call_id: i for i, item in enumerate(items) if isinstance(item, FunctionCall)}
    for item in items[cut:]:
        if isinstance(item, FunctionCallOutput) and item.call_id in calls:
            cut = min(cut, calls[item.call_id])
    return cut


def _drop_before(ctx: ChatContext, cut: int) -> ChatContext:
    """``ctx`` without the non-system items before ``cut`` (and their pairs)."""
    items = ctx.items
    gone = {
        item.id for item in items[:cut] if not (isinstance(item, Message) and item.role == "system")
    }
    calls_gone = {
        item.call_id
        for item in items
        if item.id in gone and isinstance(item, FunctionCall | FunctionCallOutput)
    }
    return ctx.filter(
        lambda item: (
            item.id not in gone
            and not (
                isinstance(item, FunctionCall | FunctionCallOutput) and item.call_id in calls_gone
            )
        )
    )


@dataclass
class KeepLastTurns:
    """Keep system messages and the last ``turns`` user turns."""

    turns: int = 4
    every: int = 1
    trigger: Trigger = "turn"
    name: str = "keep-last-turns"

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        starts = turn_starts(ctx)
        if len(starts) <= self.turns:
            return None
        cut = pair_safe_cut(ctx.items, starts[-self.turns])
        edited = _drop_before(ctx, cut)
        return edited if len(edited) != len(ctx) else None


@dataclass
class CharBudget:
    """Drop the oldest turns until the conversation's text fits ``max_chars``."""

    max_chars: int = 4000
    every: int = 1
    trigger: Trigger = "turn"
    name: str = "char-budget"

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        if _size(ctx.items) <= self.max_chars:
            return None
        edited = ctx
        for start in turn_starts(ctx)[1:]:
            edited = _drop_before(ctx, pair_safe_cut(ctx.items, start))
            if _size(edited.items) <= self.max_chars:
                break
        return edited if len(edited) != len(ctx) else None


@dataclass
class OwnSummaries:
    """The summaries a policy wrote that a snapshot may still hold: the next summary
    reads and replaces all of them.

    Two edits can run at once (a turn's call and its follow-up each complete a reply),
    each from its own snapshot, and the later push keeps the earlier one's summary (its
    base never held it: the engine never deletes what a writer had not seen). Keeping
    only the last summary written as the policy's own left that one behind as a plain
    system message, one more per such turn. So every summary written stays the policy's
    own until a snapshot that held it no longer does (it was replaced, for good)."""

    ids: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set)  # ids a snapshot has held
    _started: int = 0  # edits begun: two at once must not name their summaries alike

    def new_id(self, prefix: str, ctx: ChatContext) -> str:
        """A summary id no item of ``ctx`` has: a resumed session's policy starts
        counting again, beside summaries the journal restored (stress found the reuse:
        the push was refused, "duplicate item id")."""
        while True:
            self._started += 1
            candidate = f"{prefix}_{self._started}_{len(ctx)}"
            if candidate not in ctx:
                return candidate

    def current(self, ctx: ChatContext) -> set[str]:
        """The policy's summaries, as of ``ctx``: those seen and gone are forgotten."""
        present = {item.id for item in ctx.items if item.id in self.ids}
        self.ids -= self._seen - present
        self._seen = (self._seen | present) & self.ids
        return set(self.ids)


@dataclass
class SummarizeOlder:
    """Replace all but the last ``keep_turns`` turns with one summary message.

    The summary is slow (a model call), so the snapshot it edits is stale by the time it
    is pushed: race R2. ``summarizer`` defaults to the runner's out-of-band response.
    Its previous summary is read by the next one and replaced, so a long session holds
    one summary, not one per turn.
    """

    keep_turns: int = 2
    every: int = 1
    trigger: Trigger = "turn"
    summarizer: Summarizer | None = None
    name: str = "summarizer"
    summaries: int = field(default=0, init=False)
    _own: OwnSummaries = field(default_factory=OwnSummaries, init=False, repr=False)

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        starts = turn_starts(ctx)
        if len(starts) <= self.keep_turns or self.summarizer is None:
            return None
        cut = pair_safe_cut(ctx.items, starts[-self.keep_turns])
        item_id = self._own.new_id("summary", ctx)
        previous = self._own.current(ctx)
        done = await _summarize_before(ctx, cut, previous, self.summarizer, item_id)
        if done is None:
            return None
        self.summaries += 1
        self._own.ids.add(done[1])
        return done[0]


async def _summarize_before(
    ctx: ChatContext, cut: int, previous_ids: set[str], summarizer: Summarizer, item_id: str
) -> tuple[ChatContext, str] | None:
    """``ctx`` with the items before ``cut`` replaced by one summary (``item_id``).

    System messages stay, except the policy's own earlier summary (``previous_ids``):
    it is read by the new summary and replaced, so summaries never stack. None when
    nothing but that summary lies before the cut."""
    older = [
        i
        for i in ctx.items[:cut]
        if not (isinstance(i, Message) and i.role == "system") or i.id in previous_ids
    ]
    if not any(i.id not in previous_ids for i in older):
        return None
    text = await summarizer(older)
    previous = {i.id for i in older} & previous_ids
    edited = _drop_before(ctx, cut).filter(lambda item: item.id not in previous)
    return edited, _insert_summary(edited, item_id, text).id


SUMMARY_PREFIX = "Summary of the earlier conversation: "


def _insert_summary(edited: ChatContext, item_id: str, text: str) -> Message:
    """Put one summary message after the leading system messages of ``edited``."""
    summary = Message(id=item_id, role="system", content=f"{SUMMARY_PREFIX}{text}")
    last_system = None
    for item in edited.items:
        if isinstance(item, Message) and item.role == "system":
            last_system = item.id
        else:
            break
    edited.insert_after(last_system, summary)
    return summary


@dataclass
class RedactToolOutputs:
    """Rewrite tool outputs that match ``pattern`` (PII): race R10's redaction."""

    pattern: str = r"\b(?:\d[ -]?){13,16}\b|\b\d{3}-\d{2}-\d{4}\b"
    replacement: str = "[redacted]"
    every: int = 1
    # Each new call (earlier outputs, while that call is in flight) and each result.
    trigger: Trigger | tuple[Trigger, ...] = ("tool_started", "tool_finished")
    name: str = "redactor"

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        regex = re.compile(self.pattern)
        edited = ctx.copy()
        changed = False
        for item in ctx.items:
            if isinstance(item, FunctionCallOutput) and regex.search(item.output):
                edited.replace(
                    FunctionCallOutput(
                        id=item.id,
                        call_id=item.call_id,
                        output=regex.sub(self.replacement, item.output),
                    )
                )
                changed = True
        return edited if changed else None


def _size(items: Sequence[Item]) -> int:
    return sum(len(_text(item)) for item in items)


def _text(item: Item) -> str:
    if isinstance(item, Message):
        return item.text
    if isinstance(item, FunctionCall):
        return item.arguments
    return getattr(item, "output", None) or ""  # an output, or an MCP item (no text)


def _tokens(items: Sequence[Item]) -> int:
    """The simulator's count of ``items`` (accord.tokens), so a budget means what the
    server's ``token_limits.post_instructions`` means."""
    return sum(item_tokens(item).total for item in items)


def _first_pending(items: Sequence[Item]) -> int:
    """Position of the first call without an output in ``items`` (len if none): a call
    still in flight, which a cut must not reach."""
    answered = {i.call_id for i in items if isinstance(i, FunctionCallOutput)}
    for n, item in enumerate(items):
        if isinstance(item, FunctionCall) and item.call_id not in answered:
            return n
    return len(items)


@dataclass
class TokenBudget:
    """Keep the conversation under ``max_tokens`` by compacting before the server would.

    Why: when the server truncates (``auto`` or ``retention_ratio``) it drops items
    from the front at the start of a response, and with a tight limit it does so
    often, so the cached prompt prefix (everything after the instructions) keeps
    breaking. This policy compacts rarely and deliberately instead: when the estimate
    (:mod:`accord.tokens`, the simulator's own count) goes over ``max_tokens``, the
    oldest whole turns are replaced by one out-of-band summary so that at most
    ``low_water * max_tokens`` remain; between two compactions the conversation only
    grows at its end and the whole prefix stays cached. Set ``max_tokens`` below the
    server's limit by at least one turn's growth, so the server never has to cut.

    Never touched: the instructions (session config, not items), the last turn (the
    item being answered and its tool round), any call still without an output and
    everything after it; a call and its output go together. A previous summary is
    read by the next one and replaced, so summaries never stack.
    ``summarizer`` defaults to the runner's out-of-band response (as SummarizeOlder).
    """

    max_tokens: int = 4000
    low_water: float = 0.5
    every: int = 1
    trigger: Trigger = "turn"
    summarizer: Summarizer | None = None
    name: str = "token-budget"
    compactions: int = field(default=0, init=False)
    _own: OwnSummaries = field(default_factory=OwnSummaries, init=False, repr=False)

    async def edit(self, ctx: ChatContext) -> ChatContext | None:
        items = ctx.items
        if self.summarizer is None or _tokens(items) <= self.max_tokens:
            return None
        cut = self._cut(ctx)
        item_id = self._own.new_id("budget_summary", ctx)
        previous = self._own.current(ctx)
        done = await _summarize_before(ctx, cut, previous, self.summarizer, item_id)
        if done is None:
            return None
        self.compactions += 1
        self._own.ids.add(done[1])
        return done[0]

    def _cut(self, ctx: ChatContext) -> int:
        """The earliest turn start whose remainder fits ``low_water * max_tokens``,
        never past the last turn or a pending call (0 when nothing may go)."""
        items = ctx.items
        starts = turn_starts(ctx)
        limit = min(_first_pending(items), starts[-1] if starts else 0)
        target = self.low_water * self.max_tokens
        cut = 0
        for start in starts:
            candidate = pair_safe_cut(items, start)
            if candidate > limit:
                break
            cut = candidate
            if _tokens(items[cut:]) <= target:
                break
        return cut
