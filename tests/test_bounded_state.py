"""A long session's state is bounded by its live conversation (issue 20, engine/prune.py).

Each record the engine keeps of finished work is measured after 60 and after 240 turns
of a tool turn trimmed to its last two turns (as KeepLastTurns does): it must not grow.
Before the prunes each of them grew by one entry or more per turn, forever.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accord.agent import Agent, SeenOnce
from accord.bench.long_session import get_weather
from accord.engine import prune
from accord.engine.engine import SyncEngine
from accord.engine.mirror import TOMBSTONES_KEPT, Mirror
from accord.items import ChatContext, FunctionCall, Item, Message
from accord.policies import KeepLastTurns
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from accord.verify.harness import Pair

Size = Callable[[SyncEngine], int]

SIZES: dict[str, Size] = {
    "tombstones": lambda e: e.mirror.tombstones(),
    "deleted ids": lambda e: len(e.mirror._gone),
    "responses": lambda e: len(e.responses.by_id),
    "item_owner": lambda e: len(e.responses.item_owner),
    "done_items": lambda e: len(e.responses.done_items),
    "calls_ready": lambda e: len(e.calls_ready),
    "tools_started": lambda e: len(e.responses.tools_started),
    "tools_ended": lambda e: len(e.responses.tools_ended),
    "tool outputs": lambda e: len(e.followups.outputs),
    "output ops": lambda e: len(e.followups.output_ops),
    "follow-ups answered": lambda e: len(e.followups.answered),
    "audio_seen": lambda e: len(e.audio_seen),
    "rewrite aliases": lambda e: len(e.ledger.aliases),
    "refused creates' anchors": lambda e: len(e.ledger.failed_after),
    "foreign ids": lambda e: len(e.wire_ids.aliases),
}


def reply(p: Pair, rid: str) -> list[Item]:
    return [Message(id=p.new_id("a"), role="assistant", content="Done.", audio=True, audio_ms=900)]


def keep_last(ctx: ChatContext, turns: int) -> ChatContext:
    """KeepLastTurns' edit, synchronously: drop everything before the last ``turns``
    user messages (calls and outputs go with their turn)."""
    starts = [n for n, i in enumerate(ctx.items) if isinstance(i, Message) and i.role == "user"]
    if len(starts) <= turns:
        return ctx
    gone = {i.id for i in ctx.items[: starts[-turns]]}
    return ctx.filter(lambda item: item.id not in gone)


def turn(p: Pair, k: int) -> None:
    ctx = p.snapshot()
    # A framework's id the server would refuse (longer than 32 characters, a dot): it
    # goes out under a wire id, through the engine's map of foreign ids.
    ctx.append(Message(id=f"user.{k:06d}-0000-4000-8000-00000000", role="user", content="w"))
    # The application edits the previous reply: a rewrite, with an alias old -> new.
    replies = [i for i in ctx.items if isinstance(i, Message) and i.role == "assistant"]
    if replies:
        edited = Message(id=replies[-1].id, role="assistant", content=f"Edited {k}.")
        ctx.replace(edited)
    p.push(ctx)
    p.settle()
    rid = p.server_start()
    p.server_add(rid, FunctionCall(id=f"fc{k}", call_id=f"call_{k}", name="weather"))
    said = Message(id=f"s{k}", role="assistant", content="Let me look.", audio=True, audio_ms=700)
    p.server_add(rid, said)
    p.server_finish(rid)
    p.settle()
    p.tool_started(f"call_{k}")
    p.tool_finished(f"call_{k}", '{"sky": "clear"}')
    p.settle()  # the follow-up is asked and answered
    p.push(keep_last(p.snapshot(), 2))
    p.settle()


@pytest.fixture(scope="module")
def grown() -> tuple[dict[str, int], dict[str, int], Pair]:
    p = Pair("accord", auto_reply=reply)
    assert isinstance(p.client, SyncEngine)
    with pytest.MonkeyPatch.context() as patch:
        # The latest aliases are kept (256): fewer, so that 60 turns are past them.
        patch.setattr(prune, "ALIASES_KEPT", 16)
        for k in range(60):
            turn(p, k)
        early = {name: size(p.client) for name, size in SIZES.items()}
        for k in range(60, 240):
            turn(p, k)
        late = {name: size(p.client) for name, size in SIZES.items()}
    return early, late, p


@pytest.mark.parametrize("name", list(SIZES))
def test_a_record_of_finished_work_does_not_grow_with_the_turns(
    name: str, grown: tuple[dict[str, int], dict[str, int], Pair]
) -> None:
    early, late, _ = grown
    assert late[name] <= early[name], f"{name}: {early[name]} at turn 60, {late[name]} at 240"


def test_the_long_session_stays_equal_to_the_server(
    grown: tuple[dict[str, int], dict[str, int], Pair],
) -> None:
    _, _, p = grown
    assert p.violations() == []
    assert len(p.store.ids()) <= 12  # two turns of (user, call, text, output, reply)
    assert p.client.ledger.aliases, "no rewrite happened: the test measures nothing"
    assert len(p.client.wire_ids.aliases) > 0
    assert p.client.context().items[-1].id == p.store.ids()[-1]


def test_recently_deleted_ids_are_still_known_as_deleted() -> None:
    """Letting tombstones go keeps the latest whole and the ids of the last others: a
    context built from scratch that still names one does not create it again."""
    mirror = Mirror(deleted_ids_kept=3)
    n = TOMBSTONES_KEPT + 5
    for k in range(n):
        mirror.add(Message(id=f"m{k}", role="user", content="hi"), mirror.last_id())
    for k in range(n):
        mirror.delete(f"m{k}")
    assert mirror.tombstones() == n
    mirror.let_go()
    assert mirror.tombstones() == TOMBSTONES_KEPT
    known = [mirror.was_deleted(f"m{k}") for k in range(n)]
    assert known == [False, False] + [True] * (n - 2)
    mirror.add(Message(id="m4", role="user", content="again"), None)  # a server re-add
    assert not mirror.was_deleted("m4")


def test_a_kept_tombstone_still_anchors_a_late_item() -> None:
    """R6 after a sweep: an item added after the latest deleted item lands after that
    item's surviving predecessor."""
    mirror = Mirror()
    for k in range(40):
        mirror.add(Message(id=f"m{k}", role="user", content="hi"), mirror.last_id())
    for k in range(39, 0, -1):  # from the end: each tombstone links to the next deleted
        mirror.delete(f"m{k}")
    mirror.let_go()
    placed = mirror.add(Message(id="late", role="assistant", content="x"), "m1")
    assert placed.anchor_was_deleted and placed.previous_item_id == "m0"
    assert mirror.ids() == ["m0", "late"]


def test_seen_once_forgets_an_id_a_whole_turn_after_it_left() -> None:
    seen = SeenOnce()
    seen.add("c1")
    seen.turn_ended({"c1"})  # still in the conversation
    seen.turn_ended(set())  # gone: a duplicate may still come (its delete on its way)
    assert "c1" in seen
    seen.turn_ended(set())  # gone for a whole turn
    assert "c1" not in seen


async def test_the_runner_and_its_telemetry_keep_no_record_per_call() -> None:
    """24 tool turns trimmed to 2: the runner's dedup of dispatched calls holds the
    calls of the conversation only, and telemetry's call names are read once."""
    agent = Agent(instructions="Weather.", tools=[get_weather], context_policy=KeepLastTurns(2))
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test-not-a-key", session=agent.session_config(), seed=7
        ) as session,
    ):
        runner = agent.start(session)
        try:
            for n in range(24):
                await runner.say(f"the weather in Oslo, turn {n}")
                await runner.wait_idle(10.0)
            assert runner.stats.tool_calls == 24
            assert len(runner._handled_calls.ids) <= 4
            if session.telemetry is not None:
                assert len(session.telemetry._calls) <= 1
        finally:
            await runner.aclose()


async def test_audio_counted_for_out_of_band_replies_is_forgotten_when_they_end() -> None:
    """An out-of-band reply's items never enter the conversation, so no delete ever
    pops the audio counted for them: its end does."""
    config = {"output_modalities": ["audio"], "instructions": "Speak."}
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test-not-a-key", session=config, seed=7
        ) as session,
    ):
        for _ in range(3):
            generation = await session.generate_reply(out_of_band=True, instructions="Summarize.")
            await generation.wait()
            assert generation.item_ids
        assert session.core.audio_received == {}
