"""TokenBudget against the in-process simulator: the conversation stays under the
budget, the server never truncates (it would without the policy), a call in flight at
compaction survives with its output, and the mirror ends equal to the server's store."""

from __future__ import annotations

import asyncio

from accord.agent import Agent
from accord.bench.budget_bench import run_way
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.policies import TokenBudget, _tokens
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, PlannedText
from accord.tools import function_tool
from test_agent import SummaryAware, running

LIMIT = 600
BUDGET = 450


async def _long_session(policy: TokenBudget | None, turns: int) -> tuple[list[str], bool, int]:
    agent = Agent(instructions="Chat.", context_policy=policy)
    async with running(agent, config=SimConfig(post_instructions_limit=LIMIT)) as run:
        peak = 0
        for n in range(turns):
            await run.turn(f"turn {n}: " + "words " * 12)
            peak = max(peak, _tokens(run.store))
        await asyncio.sleep(0.05)
        await run.runner.wait_idle(5.0)
        evicted = run.sim.sessions[0].store.evicted_ids()
        converged = run.mirror == run.store
        return list(evicted), converged, peak


async def test_token_budget_keeps_the_server_from_truncating() -> None:
    policy = TokenBudget(max_tokens=BUDGET)
    evicted, converged, peak = await _long_session(policy, 40)
    assert evicted == []
    assert policy.compactions >= 2
    assert peak <= LIMIT
    assert converged


async def test_without_the_policy_the_server_truncates() -> None:
    evicted, _, _ = await _long_session(None, 40)
    assert evicted  # the same session, left to the server, loses items silently


async def test_summaries_merge_and_a_pending_call_is_never_cut() -> None:
    """Unit level: a compaction reads the previous summary and replaces it, and stops
    before a call that has no output yet (and so before its output to come)."""
    read: list[list[str]] = []

    async def summarize(items: object) -> str:
        read.append([i.id for i in items])  # type: ignore[attr-defined]
        return "earlier"

    policy = TokenBudget(max_tokens=60, low_water=0.1, summarizer=summarize)
    items: list[Item] = []
    for n in range(6):
        items.append(Message(id=f"u{n}", role="user", content="hello " * 10))
        items.append(Message(id=f"a{n}", role="assistant", content="hi " * 10))
    first = await policy.edit(ChatContext(items))
    assert first is not None
    summary = first.items[0]
    assert isinstance(summary, Message) and summary.role == "system"
    assert [i.id for i in first.items[1:]] == ["u5", "a5"]

    grown = first.copy()
    grown.append(Message(id="u6", role="user", content="book it " * 10))
    grown.append(FunctionCall(id="c1", call_id="k1", name="book", arguments="{}"))
    grown.append(Message(id="u7", role="user", content="and? " * 10))
    second = await policy.edit(grown)
    assert second is not None
    assert summary.id in read[1]  # the old summary was read by the new one...
    ids = [i.id for i in second.items]
    assert summary.id not in ids  # ...and replaced, not stacked
    assert sum(isinstance(i, Message) and i.role == "system" for i in second.items) == 1
    assert ids[1:] == ["u6", "c1", "u7"]  # the pending call's turn and what follows stay

    done = second.copy()
    done.insert_after("c1", FunctionCallOutput(id="o1", call_id="k1", output="ok " * 40))
    third = await policy.edit(done)
    if third is not None:
        kept = {i.id for i in third.items}
        assert ("c1" in kept) == ("o1" in kept)  # never split a call from its output


async def test_the_cached_share_bench_runs_a_few_turns() -> None:
    share = await run_way("budget", 6, limit=300, budget=220)
    assert share.input_tokens > 0
    assert 0.0 <= share.share <= 1.0
    assert share.evicted == 0


async def test_a_call_in_flight_at_compaction_survives_with_its_output() -> None:
    """The policy runs when the tool starts (its call has no output yet) and compacts
    the older turns; the call, its output and the reply after it all reach the store."""
    started = asyncio.Event()

    @function_tool
    async def lookup() -> str:
        """Look it up."""
        started.set()
        await asyncio.sleep(0.2)
        return "found it"

    policy = TokenBudget(max_tokens=80, low_water=0.3, trigger="tool_started")
    agent = Agent(instructions="Chat.", tools=[lookup], context_policy=policy)
    replies = [[PlannedText("ok " * 20)] for _ in range(3)]
    model = SummaryAware(*replies, [PlannedCall("lookup"), PlannedText("Here it is.")])
    async with running(agent, model) as run:
        for n in range(3):
            await run.turn(f"turn {n}: " + "words " * 12)
        await run.turn("look it up")
        store = run.store
        assert policy.compactions >= 1
        calls = [i for i in store if isinstance(i, FunctionCall)]
        outputs = [i for i in store if isinstance(i, FunctionCallOutput)]
        assert [c.call_id for c in calls] == [o.call_id for o in outputs] != []
        assert outputs[0].output == "found it"
        assert run.sim.sessions[0].store.evicted_ids() == []
        run.assert_converged()
