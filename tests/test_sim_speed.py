"""The simulator's fast paths say exactly what the plain computations they replace say."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.context_window import ContextWindow, fingerprint
from accord.sim.ids import ALPHABET, _token
from accord.sim.session import _too_big
from accord.sim.store import ConversationStore, StoreConfig
from accord.sim.tokens import ZERO, Count, instruction_tokens, item_tokens
from accord.sim.truncation import Entry, PromptCache

counts = st.builds(
    Count, st.integers(0, 50), st.integers(0, 50), st.integers(0, 3).map(lambda n: 85 * n)
)
names = st.sampled_from(["a", "b", "c", "d", "e"])


def cached_by_the_book(recent: list[list[Entry]], prompt: list[Entry]) -> Count:
    """The prompt cache's definition, item by item (what it computed before)."""
    best = ZERO
    for seen in recent:
        total = ZERO
        for mine, theirs in zip(prompt, seen, strict=False):
            if mine[0] != theirs[0]:
                break
            total = total + mine[1]
        if total.total > best.total:
            best = total
    return best


entries = st.lists(st.tuples(names, counts), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(entries, entries), max_size=10), st.lists(entries, min_size=1))
def test_the_prompt_cache_counts_as_the_book_does(
    remembered: list[tuple[list[Entry], list[Entry]]], prompts: list[list[Entry]]
) -> None:
    cache = PromptCache()
    for prompt, written in remembered:
        cache.remember(prompt, written)
    for prompt in prompts:
        assert cache.cached(prompt) == cached_by_the_book(cache.recent, prompt)


def counted_by_the_book(window: ContextWindow, item: Item) -> Count:
    """What ContextWindow.counted computed before it kept a memo."""
    if isinstance(item, Message) and item.audio and item.audio_ms is None:
        item = replace(item, audio_ms=window.audio_ms(item.id))
    return item_tokens(item) + window.extra(item.id)


def an_item(data: st.DataObject, n: int) -> Item:
    kind = data.draw(st.sampled_from(["text", "audio", "call", "output"]))
    text = data.draw(st.text(max_size=30))
    if kind == "call":
        return FunctionCall(id=f"i{n}", call_id="c", name="f", arguments=text)
    if kind == "output":
        return FunctionCallOutput(id=f"i{n}", call_id="c", output=text)
    audio = kind == "audio"
    ms = data.draw(st.none() | st.integers(0, 5000)) if audio else None
    return Message(id=f"i{n}", role="user", content=text, audio=audio, audio_ms=ms)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_windows_memo_counts_as_the_book_does(data: st.DataObject) -> None:
    # Successive prompts over the same item objects, some edited under their ids (a new
    # object), user audio whose length the session learns, images coming and going.
    heard: dict[str, int] = {}
    images: dict[str, int] = {}
    window = ContextWindow(
        ConversationStore(StoreConfig()),
        audio_ms=heard.get,
        extra=lambda i: Count(image=85 * images[i]) if i in images else ZERO,
    )
    pool = [an_item(data, n) for n in range(6)]
    for _ in range(data.draw(st.integers(1, 8))):
        for n in data.draw(st.lists(st.integers(0, 5), max_size=3)):
            pool[n] = an_item(data, n) if data.draw(st.booleans()) else replace(pool[n])
        for n in data.draw(st.lists(st.integers(0, 5), max_size=3)):
            heard[f"i{n}"] = data.draw(st.integers(0, 9000))
        for n in data.draw(st.lists(st.integers(0, 5), max_size=2)):
            images[f"i{n}"] = data.draw(st.integers(0, 2))
        state = [pool[n] for n in data.draw(st.lists(st.integers(0, 5), unique=True))]
        for item in state:
            assert window.counted(item) == counted_by_the_book(window, item)
        prompt = window.prepare({}, "be brief", [], state)
        expected = [(fingerprint(i), counted_by_the_book(window, i)) for i in state]
        assert list(prompt.entries[1:]) == expected
        assert prompt.tokens == sum((c for _, c in prompt.entries), ZERO)


def head_by_the_book(instructions: str, tools: list[dict[str, Any]]) -> Entry:
    spelled = json.dumps([instructions, list(tools)], sort_keys=True, default=str)
    return (f"instructions:{hash(spelled)}", instruction_tokens(instructions, tools))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_instructions_entry_follows_the_instructions_and_tools(data: st.DataObject) -> None:
    window = ContextWindow(ConversationStore(StoreConfig()))
    tools: list[dict[str, Any]] = []
    for _ in range(data.draw(st.integers(1, 8))):
        change = data.draw(st.sampled_from(["same", "add", "replace", "drop", "copy"]))
        if change == "add":
            tools.append({"type": "function", "name": data.draw(st.text(max_size=8))})
        elif change == "replace" and tools:
            tools[-1] = {"type": "function", "name": data.draw(st.text(max_size=8))}
        elif change == "drop" and tools:
            tools.pop()
        elif change == "copy":
            tools = [dict(t) for t in tools]  # equal tools, new objects
        instructions = data.draw(st.sampled_from(["be brief", "be kind", ""]))
        prompt = window.prepare({}, instructions, list(tools), [])
        assert prompt.entries[0] == head_by_the_book(instructions, tools)


def token_by_the_book(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(ALPHABET[digit])
    return "".join(out)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**130), st.integers(0, 24))
def test_ids_are_the_digits_they_always_were(value: int, width: int) -> None:
    assert _token(value, width) == token_by_the_book(value, width)


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=40), st.integers(0, 120))
def test_the_size_check_is_the_encoded_length(frame: str, limit: int) -> None:
    assert _too_big(frame, limit) == (len(frame.encode("utf-8", "replace")) > limit)
