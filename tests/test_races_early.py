"""Races R1..R11 of docs/races.md: one scripted timeline each, played for both strategies.

Each test is one scenario of the catalogue. The timeline feeds events one at a time
through a :class:`~accord.verify.harness.Pair` (``deliver_up`` / ``deliver_down`` force
the interleaving the catalogue describes), then judges it: accord ends with no violation
and the server holding exactly what the catalogue says; the naive strategy (LiveKit
Agents 1.8.9's two-copies-and-diff) fails the way the catalogue says, and the checker
names the invariant it breaks.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.engine import events as ev
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.verify.checker import Invariant
from accord.verify.harness import Pair

NO_LOST_ITEM = Invariant.NO_LOST_ITEM
NO_DANGLING_ANCHOR = Invariant.NO_DANGLING_ANCHOR
CONVERGENCE = Invariant.CONVERGENCE
PAIRS = Invariant.PAIRS
RESOLVES_ONCE = Invariant.RESOLVES_ONCE

both_strategies = pytest.mark.parametrize("strategy", ["accord", "naive"])

# -- items ----------------------------------------------------------------------------------


def user(item_id: str, text: str = "") -> Message:
    return Message(id=item_id, role="user", content=text or f"user says {item_id}")


def assistant(item_id: str, text: str | None = None) -> Message:
    return Message(
        id=item_id, role="assistant", content=f"assistant says {item_id}" if text is None else text
    )


def summary(item_id: str = "s") -> Message:
    return Message(id=item_id, role="system", content="summary of the earlier turns")


def call(item_id: str, call_id: str, name: str = "lookup") -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name=name)


# -- the pair and what to say about it ------------------------------------------------------


def seeded(strategy: str, *items: Item) -> Pair:
    """A pair whose conversation holds ``items``, pushed by the client and acknowledged."""
    p = Pair(strategy)
    ctx = p.snapshot()
    for item in items:
        ctx.append(item)
    p.push(ctx)
    p.settle()
    assert p.server_ids() == [item.id for item in items]
    assert p.violations() == []
    return p


def label(item: Item) -> str:
    """An item's id, or ``out:<call_id>`` for an output (its id is the client's choice)."""
    return f"out:{item.call_id}" if isinstance(item, FunctionCallOutput) else item.id


def server(p: Pair) -> list[str]:
    return [label(item) for item in p.store.items()]


def wire(p: Pair) -> list[str]:
    """The client operations waiting in the up channel, in order, in words."""
    words: list[str] = []
    for op in p.up:
        if isinstance(op, ev.CreateItem):
            words.append(f"create {label(op.item)} after {op.previous_item_id}")
        elif isinstance(op, ev.DeleteItem):
            words.append(f"delete {op.item_id}")
        elif isinstance(op, ev.TruncateItem):
            words.append(f"truncate {op.item_id} at {op.audio_end_ms}")
        elif isinstance(op, ev.CreateResponse):
            words.append("response.create")
        elif isinstance(op, ev.CancelResponse):
            words.append("response.cancel")
        else:
            words.append(type(op).__name__)
    return words


def output_sent(p: Pair, call_id: str) -> str:
    """The id of the output for ``call_id`` waiting in the up channel."""
    return next(
        op.item.id
        for op in p.up
        if isinstance(op, ev.CreateItem)
        and isinstance(op.item, FunctionCallOutput)
        and op.item.call_id == call_id
    )


def output_id(p: Pair, call_id: str) -> str:
    """The id of the output for ``call_id`` on the server."""
    return next(
        item.id
        for item in p.store.items()
        if isinstance(item, FunctionCallOutput) and item.call_id == call_id
    )


def broken(p: Pair) -> set[tuple[Invariant, str | None]]:
    """Which invariants the checker reports, and for which items."""
    return {(v.invariant, v.item_id) for v in p.violations()}


def assert_clean(p: Pair, expected: list[str]) -> None:
    """No invariant broken; the server holds ``expected``; the mirror equals the server."""
    assert p.violations() == []
    assert server(p) == expected
    assert p.client.mirror_items() == p.store.items()


def error_codes(p: Pair) -> list[str | None]:
    return [e.code for e in p.errors]


# -- R1 .. R11 ------------------------------------------------------------------------------


@both_strategies
def test_r1_in_flight_function_call(strategy: str) -> None:
    """R1 In-flight function call (the original report): a context policy pushes the
    agent's context minus u0 while fc1, which the agent has not seen, is on the server."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"))
    agent = p.snapshot()  # the agent learns of calls only when it dispatches them
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.deliver_down(3)  # response.created, output_item.added(fc1), item.added(fc1, prev=a1)
    assert [item.id for item in p.client.mirror_items()][-1] == "fc1"

    agent.remove("u0")
    p.push(agent)
    pushed = wire(p)
    p.deliver_up(len(p.up))
    p.server_finish(rid)
    p.deliver_down(len(p.down))
    assert [c.call_id for c in p.ready_calls] == ["call_1"]  # the tool still runs
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"balance": 42}')
    out = output_sent(p, "call_1")
    p.settle()

    if strategy == "accord":
        assert pushed == ["delete u0"]  # fc1 was never in the pushed context's base
        assert_clean(p, ["a0", "u1", "a1", "fc1", "out:call_1"])  # the output lands after fc1
    else:
        assert pushed == ["delete u0", "delete fc1"]
        assert error_codes(p) == ["invalid_tool_call_id"]
        assert server(p) == ["a0", "u1", "a1"]
        assert broken(p) == {(NO_LOST_ITEM, "fc1"), (CONVERGENCE, "fc1"), (CONVERGENCE, out)}


@both_strategies
def test_r2_stale_snapshot(strategy: str) -> None:
    """R2 Stale snapshot: a summarizer snapshots [u0 a0 u1 a1 u2 a2]; the server adds u3
    a3 fc4; the summarizer pushes [s a1 u2 a2]."""
    p = seeded(
        strategy,
        *(user("u0"), assistant("a0"), user("u1"), assistant("a1"), user("u2"), assistant("a2")),
    )
    summarizer = p.snapshot()  # the async summary call starts from this
    p.server_user_audio("u3")
    p.server_transcript("u3", "and what about tomorrow?")
    rid = p.server_start()
    p.server_add(rid, assistant("a3"))
    p.server_add(rid, call("fc4", "call_4", "forecast"))
    p.server_finish(rid)
    p.deliver_down(len(p.down))
    p.tool_started("call_4")

    for item_id in ("u0", "a0", "u1"):
        summarizer.remove(item_id)
    summarizer.insert_after(None, summary())
    p.push(summarizer)
    pushed = wire(p)
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))
    p.tool_finished("call_4", '{"sky": "clear"}')
    out = output_sent(p, "call_4")
    p.settle()

    if strategy == "accord":
        assert pushed == ["create s after root", "delete u0", "delete a0", "delete u1"]
        assert_clean(p, ["s", "a1", "u2", "a2", "u3", "a3", "fc4", "out:call_4"])
    else:
        assert pushed == [
            *("delete u0", "delete a0", "delete u1", "delete u3", "delete a3", "delete fc4"),
            "create s after root",
        ]
        assert server(p) == ["s", "a1", "u2", "a2"]
        assert error_codes(p) == ["invalid_tool_call_id"]
        assert broken(p) == {
            *((NO_LOST_ITEM, "u3"), (NO_LOST_ITEM, "a3"), (NO_LOST_ITEM, "fc4")),
            *((CONVERGENCE, "u3"), (CONVERGENCE, "a3"), (CONVERGENCE, "fc4")),
            (CONVERGENCE, out),
        }


@both_strategies
def test_r3_streaming_last_item(strategy: str) -> None:
    """R3 Streaming last item: a response is generating a4 (its first delta has arrived)
    when a push arrives whose base predates a4."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"))
    policy = p.snapshot()
    rid = p.server_start()
    p.server_add(rid, assistant("a4", ""), done=False)
    p.server_stream(assistant("a4", "It will be"))  # not empty any more
    p.deliver_down(len(p.down))

    policy.remove("u0")
    p.push(policy)
    pushed = wire(p)
    p.deliver_up(len(p.up))
    p.server_stream(assistant("a4", "It will be sunny."), done=True)
    p.server_finish(rid)
    p.settle()

    if strategy == "accord":
        assert pushed == ["delete u0"]  # a4 is in flight and not in the base: kept
        assert_clean(p, ["a0", "u1", "a4"])
        assert p.store.get("a4") == assistant("a4", "It will be sunny.")
    else:
        assert pushed == ["delete u0", "delete a4"]  # deleted mid-stream
        assert server(p) == ["a0", "u1"]
        assert broken(p) == {(NO_LOST_ITEM, "a4"), (CONVERGENCE, "a4")}


@both_strategies
@pytest.mark.parametrize("second", ["summarization", "truncation"])
def test_r4_lost_update(strategy: str, second: str) -> None:
    """R4 Lost update (two writers): truncation and summarization both read base B;
    truncation removes u0 a0, summarization replaces u1 a1 with s; whichever pushes second
    still pushes from B."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"), user("u2"))
    base = p.snapshot()
    truncation = base.copy()
    truncation.remove("u0")
    truncation.remove("a0")
    summarization = base.copy()
    summarization.remove("u1")
    summarization.remove("a1")
    summarization.insert_after("a0", summary())
    first, last = (
        (truncation, summarization) if second == "summarization" else (summarization, truncation)
    )

    p.push(first)
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))  # the first push is applied and acknowledged
    p.push(last)  # still from base B
    pushed = wire(p)
    p.settle()

    if strategy == "accord":
        assert_clean(p, ["s", "u2"])  # both intents apply; nothing resurrected
    elif second == "summarization":
        assert pushed == [
            *("delete u1", "delete a1"),
            *("create u0 after root", "create a0 after u0", "create s after a0"),
        ]
        assert server(p) == ["u0", "a0", "s", "u2"]  # u0 a0 are back
        assert broken(p) == {(CONVERGENCE, "u0"), (CONVERGENCE, "a0")}
    else:
        assert pushed == [
            *("delete u0", "delete a0", "delete s"),
            *("create u1 after root", "create a1 after u1"),
        ]
        assert server(p) == ["u1", "a1", "u2"]  # s is gone, u1 a1 are back
        assert broken(p) == {
            (NO_LOST_ITEM, "s"),
            *((CONVERGENCE, "s"), (CONVERGENCE, "u1"), (CONVERGENCE, "a1")),
        }


@both_strategies
def test_r5_delete_racing_an_anchored_create(strategy: str) -> None:
    """R5 Delete racing an anchored create: a push creates x after a3 while another push
    deletes a3."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u3"), assistant("a3"))
    base = p.snapshot()
    trimmer = base.copy()
    trimmer.remove("a3")
    noter = base.copy()
    noter.insert_after("a3", Message(id="x", role="system", content="the user is in a hurry"))

    p.push(trimmer)
    p.push(noter)  # before the delete is acknowledged
    pushed = wire(p)
    p.deliver_up(1)  # the server deletes a3
    p.deliver_up(1)  # then sees the create
    p.settle()

    if strategy == "accord":
        assert pushed == ["delete a3", "create x after u3"]  # re-anchored on a3's predecessor
        assert_clean(p, ["u0", "a0", "u3", "x"])
    else:
        assert pushed == ["delete a3", "create x after a3"]
        assert error_codes(p) == ["item_create_invalid_previous_item_id"]
        assert server(p) == ["u0", "a0", "u3"]  # x missing
        assert broken(p) == {(NO_DANGLING_ANCHOR, "x"), (CONVERGENCE, "x")}


@both_strategies
def test_r6_late_insert_anchored_on_a_deleted_item(strategy: str) -> None:
    """R6 Late insert anchored on a deleted item: the client deletes a3; the server,
    already generating, then sends item.added(a4, prev=a3) after item.deleted(a3)."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u3"), assistant("a3"))
    policy = p.snapshot()
    rid = p.server_start()  # already generating: response.created still on its way down

    policy.remove("a3")
    p.push(policy)
    p.deliver_up(1)  # the server deletes a3
    p.server_add(rid, assistant("a4"), after="a3")
    p.server_finish(rid)
    p.deliver_down(2)  # response.created, item.deleted(a3)
    p.deliver_down(2)  # output_item.added(a4), item.added(a4, prev=a3)
    p.settle()

    if strategy == "accord":
        assert_clean(p, ["u0", "a0", "u3", "a4"])  # after a3's surviving predecessor
        assert any("a4" in notice for notice in p.notices)  # reported, never dropped
    else:
        assert server(p) == ["u0", "a0", "u3", "a4"]
        assert [item.id for item in p.client.mirror_items()] == ["u0", "a0", "u3"]  # dropped
        assert broken(p) == {(CONVERGENCE, "a4")}


@pytest.mark.parametrize(
    ("strategy", "tool_finished"),
    [
        ("accord", "during the restore"),
        ("naive", "during the restore"),
        ("accord", "before the drop"),
    ],
)
def test_r7_output_before_its_call_is_on_the_server(strategy: str, tool_finished: str) -> None:
    """R7 Output before its call is on the server: after a reconnect the restore
    re-creates fc1 and its output; or a tool finishes while fc1's create is still
    unacknowledged. (The naive in-order restore gets the first case right; its failure is
    the second.)"""
    p = seeded(strategy, user("u0"), assistant("a0"))
    p.auto_reply = lambda _pair, rid: [assistant(f"answer_{rid}")]
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1", "book_table"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    if tool_finished == "before the drop":
        p.tool_finished("call_1", '{"table": 7}')
        p.settle()  # the output is on the server and the follow-up answered

    p.drop()
    p.reconnect(settle=False)  # the restore's creates are on their way up
    p.deliver_up(len(p.up))  # the server has them; their acks are on their way down
    if tool_finished == "during the restore":
        p.tool_finished("call_1", '{"table": 7}')
    early = [w for w in wire(p) if w.startswith("create out:")]
    p.settle()

    if strategy == "accord":
        assert early == []  # the output goes strictly after its call's ack
        assert_clean(p, ["u0", "a0", "fc1", "out:call_1", "answer_resp2"])  # answered once
    else:
        assert early == ["create out:call_1 after root"]  # the mirror has no fc1 yet
        assert server(p) == ["out:call_1", "u0", "a0", "fc1", "answer_resp2"]
        assert broken(p) == {(PAIRS, output_id(p, "call_1"))}


def test_r7_a_refused_call_create_fails_the_pair() -> None:
    """R7 Output before its call is on the server: "a failed call create fails the pair"
    (accord only; the server refuses the restore's create of fc1)."""
    p = seeded("accord", user("u0"), assistant("a0"))
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1", "book_table"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"table": 7}')
    p.settle()
    out = output_id(p, "call_1")

    p.drop()
    p.reconnect(settle=False)
    refused = p.up.popleft()  # the restore's first create: fc1 (a run goes in reverse)
    assert isinstance(refused, ev.CreateItem) and refused.item.id == "fc1"
    p.server_error("invalid_value", "function call refused", refused.event_id)
    p.settle()

    assert server(p) == ["u0", "a0"]
    assert not any(op.item_id == out for op in p.log.ops.values())  # never sent alone
    assert p.client.is_quiet()  # the output's create failed with its call


@both_strategies
def test_r8_disconnect_mid_push(strategy: str) -> None:
    """R8 Disconnect mid-push: the socket drops after delete(u0) and create(s) were sent
    but before their acks."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"))
    policy = p.snapshot()
    policy.remove("u0")
    policy.insert_after(None, summary())

    push_id = p.push(policy)
    p.deliver_up(len(p.up))  # the server applied both; the acks are on their way down
    p.drop()  # they never arrive
    p.reconnect()
    sent = next(r.sent for r in p.reports if r.push_id == push_id)
    resolved = {r.event_id: r.status for r in p.log.resolutions if r.event_id in sent}

    if strategy == "accord":
        assert_clean(p, ["s", "a0", "u1", "a1"])  # rebuilt from the projected state
        assert len(sent) == 2 and resolved == dict.fromkeys(sent, "success")
        assert p.lost_reported == []
    else:
        assert server(p) == ["u0", "a0", "u1", "a1"]  # s lost, u0 back
        assert resolved == {}  # the futures hang
        assert broken(p) == {(RESOLVES_ONCE, None)}
        assert [v.detail for v in p.violations() if v.invariant is RESOLVES_ONCE] == [
            f"operation {event_id!r} never resolved" for event_id in sent
        ]


@both_strategies
def test_r9_truncate_during_a_push(strategy: str) -> None:
    """R9 Truncate during a push: barge-in truncates a5's audio while a policy push, from
    a snapshot taken while a5 was still playing, holds a5 as it was before the cut."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u5"))
    rid = p.server_start()
    full = Message(
        id="a5",
        role="assistant",
        content="Your flight leaves at nine from gate twelve",
        audio=True,
        audio_ms=4000,
    )
    p.server_add(rid, full, done=False)
    p.deliver_down(len(p.down))
    policy = p.snapshot()  # a5 as it was before the barge-in

    p.interrupt("a5", played_ms=1000)  # the user heard one second
    assert wire(p) == ["response.cancel", "truncate a5 at 1000"]
    p.deliver_up(2)
    p.deliver_down(len(p.down))  # response.done (cancelled), item.truncated(a5)
    policy.remove("u0")
    p.push(policy)
    pushed = wire(p)
    p.settle()

    if strategy == "accord":
        assert pushed == ["delete u0"]
        assert_clean(p, ["a0", "u5", "a5"])
        assert p.store.get("a5") == replace(full, content="", audio_ms=1000)  # truncated
    else:
        assert pushed == ["delete u0", "delete a5", "create a5 after u5"]
        assert server(p) == ["a0", "u5", "a5"]
        # words the user never heard (re-created by a conversation.item.create, which
        # carries no audio length)
        assert p.store.get("a5") == replace(full, audio_ms=None)
        # The stale copy's delete was no edit of the writer's (1); the server holds
        # content no writer asked for (3).
        assert broken(p) == {(NO_LOST_ITEM, "a5"), (CONVERGENCE, "a5")}


@both_strategies
def test_r10_content_change_of_a_call_or_output(strategy: str) -> None:
    """R10 Content change of a call or output: a redaction policy rewrites a tool output
    (PII) under the same id."""
    p = seeded(strategy, user("u0"))
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1", "lookup_customer"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"ssn": "123-45-6789"}')
    p.settle()

    policy = p.snapshot()
    pii = next(item for item in policy if isinstance(item, FunctionCallOutput))
    redacted = replace(pii, output='{"ssn": "[redacted]"}')
    policy.replace(redacted)
    p.push(policy)
    pushed = wire(p)
    p.settle()

    if strategy == "accord":
        # delete + create under a fresh id at the same place, the create first
        assert pushed == [f"create out:call_1 after {pii.id}", f"delete {pii.id}"]
        new_id = p.client.aliases()[pii.id]  # the alias old -> new is kept
        assert p.snapshot().ids() == ["u0", "fc1", new_id]  # the local context follows it
        p.push(policy)  # still naming the old id: resolved through the alias, sends nothing
        assert wire(p) == []
        assert_clean(p, ["u0", "fc1", "out:call_1"])  # the output still after its call
        assert p.store.items() == [
            user("u0"),
            call("fc1", "call_1", "lookup_customer"),  # the call untouched
            replace(redacted, id=new_id),
        ]
    else:
        assert pushed == []  # the diff compares messages only: nothing was sent
        assert p.store.get(pii.id) == pii  # the PII stays on the server
        assert broken(p) == {(CONVERGENCE, pii.id)}


@both_strategies
def test_r11_voice_turn_transcript_later(strategy: str) -> None:
    """R11 Voice turn, transcript later: VAD commits u5 (no transcript yet), the response
    starts at once, a push whose base lacks u5 runs, then the transcript arrives."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"))
    policy = p.snapshot()
    p.server_user_audio("u5")
    rid = p.server_start()
    p.server_add(rid, assistant("a5", "Sure,"), done=False)
    p.deliver_down(len(p.down))

    policy.remove("u0")
    policy.remove("a0")
    p.push(policy)
    pushed = wire(p)
    p.deliver_up(len(p.up))
    p.server_transcript("u5", "book me a table for two")
    p.server_stream(assistant("a5", "Sure, for what time?"), done=True)
    p.server_finish(rid)
    p.settle()

    if strategy == "accord":
        assert pushed == ["delete u0", "delete a0"]
        assert_clean(p, ["u1", "a1", "u5", "a5"])
        assert p.store.get("u5") == Message(
            id="u5", role="user", content="book me a table for two", audio=True
        )  # the transcript updated the same item
    else:
        assert pushed == ["delete u0", "delete a0", "delete u5", "delete a5"]
        assert server(p) == ["u1", "a1"]  # the user's own words are gone
        assert broken(p) == {
            *((NO_LOST_ITEM, "u5"), (NO_LOST_ITEM, "a5")),
            *((CONVERGENCE, "u5"), (CONVERGENCE, "a5")),
        }
