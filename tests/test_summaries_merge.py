"""SummarizeOlder keeps one summary: the previous one is read by the next and replaced
(issue 20: a long session grew one system message per turn before)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from accord.items import ChatContext, Item, Message
from accord.policies import SUMMARY_PREFIX, SummarizeOlder
from accord.verify.harness import Pair


def summaries(ctx: ChatContext) -> list[Message]:
    return [
        i
        for i in ctx.items
        if isinstance(i, Message) and i.role == "system" and i.text.startswith(SUMMARY_PREFIX)
    ]


async def test_a_long_session_holds_one_summary_that_carries_the_earlier_ones() -> None:
    seen: list[list[str]] = []

    async def summarizer(items: Sequence[Item]) -> str:
        seen.append([i.id for i in items])
        words = [i.text for i in items if isinstance(i, Message)]
        return " / ".join(w.removeprefix(SUMMARY_PREFIX) for w in words)

    policy = SummarizeOlder(keep_turns=2, summarizer=summarizer)
    ctx = ChatContext([Message(id="sys", role="system", content="You help.")])
    for n in range(12):
        ctx.append(Message(id=f"u{n}", role="user", content=f"question {n}"))
        ctx.append(Message(id=f"a{n}", role="assistant", content=f"answer {n}"))
        edited = await policy.edit(ctx)
        if edited is not None:
            ctx = edited
        assert len(summaries(ctx)) <= 1
    (summary,) = summaries(ctx)
    assert ctx.items[0].id == "sys"  # the instructions' system message stays
    assert [i.id for i in ctx.items][-4:] == ["u10", "a10", "u11", "a11"]
    assert "question 0" in summary.text and "answer 9" in summary.text  # nothing forgotten
    assert policy.summaries == 10
    # From the second summary on, the previous summary is among what is summarized.
    assert all(any(i.startswith("summary_") for i in ids) for ids in seen[1:])
    assert len(ctx) == 6


async def test_the_conversation_stays_bounded_over_many_turns() -> None:
    async def summarizer(items: Sequence[Item]) -> str:
        return f"{len(items)} items"

    policy = SummarizeOlder(keep_turns=2, summarizer=summarizer)
    ctx = ChatContext([Message(id="sys", role="system", content="You help.")])
    longest = 0
    for n in range(300):
        ctx.append(Message(id=f"u{n}", role="user", content=f"question {n}"))
        ctx.append(Message(id=f"a{n}", role="assistant", content=f"answer {n}"))
        edited = await policy.edit(ctx)
        if edited is not None:
            ctx = edited
        longest = max(longest, len(ctx))
    assert longest <= 7  # instructions, one summary, two kept turns, the new turn


def test_two_summaries_written_at_once_are_merged_by_the_next() -> None:
    """Each turn two edits run from the same snapshot (a call's reply and its follow-up
    both complete a turn): the later push keeps the earlier one's summary, since its
    base never held it. The next edit must take both as the policy's own; it took only
    the last written, and the other stayed as a system message, one more every turn."""

    async def summarizer(items: Sequence[Item]) -> str:
        return f"{len(items)} items"

    policy = SummarizeOlder(keep_turns=1, summarizer=summarizer)
    p = Pair("accord")
    for n in range(40):
        ctx = p.snapshot()
        ctx.append(Message(id=f"u{n}", role="user", content=f"question {n}"))
        ctx.append(Message(id=f"a{n}", role="assistant", content=f"answer {n}"))
        p.push(ctx)
        p.settle()
        snapshot = p.snapshot()
        for edited in (asyncio.run(policy.edit(snapshot)), asyncio.run(policy.edit(snapshot))):
            if edited is not None:
                p.push(edited)
        p.settle()
        assert len(summaries(p.snapshot())) <= 2, n
    assert len(p.snapshot()) <= 4
    assert p.violations() == []


async def test_a_resumed_policy_never_reuses_a_restored_summarys_id() -> None:
    """A resumed session's policy starts counting again beside the summaries the journal
    restored; its first summary must not take one of their ids (the push would be
    refused as a duplicate item id)."""

    async def summarizer(items: Sequence[Item]) -> str:
        return "earlier"

    first = SummarizeOlder(keep_turns=1, summarizer=summarizer)
    ctx = ChatContext([Message(id="sys", role="system", content="You help.")])
    for n in range(3):
        ctx.append(Message(id=f"u{n}", role="user", content=f"question {n}"))
        ctx.append(Message(id=f"a{n}", role="assistant", content=f"answer {n}"))
    edited = await first.edit(ctx)
    assert edited is not None
    (restored,) = summaries(edited)
    resumed = SummarizeOlder(keep_turns=1, summarizer=summarizer)  # a new process
    # the same shape of conversation again: the same count and length as the first
    again = ChatContext([*edited.items[:1], *ctx.items[1:]])
    again.insert_after("sys", restored)
    again.remove("u0")
    assert len(again) == len(ctx)
    second = await resumed.edit(again)
    assert second is not None
    ids = [i.id for i in second.items]
    assert len(ids) == len(set(ids))
