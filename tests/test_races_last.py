"""Races R18..R22 of docs/races.md, one scripted timeline each, for both strategies
(as :mod:`test_races_late`, with the same helpers from :mod:`races_late_support`).
"""

from __future__ import annotations

import pytest

from accord.engine import events as ev
from accord.ids import is_wire_safe
from accord.items import ChatContext, Message
from accord.verify.checker import Invariant
from accord.verify.harness import Pair
from races_late_support import (
    BUSY,
    STRATEGIES,
    assert_accord_converged,
    assistant,
    error_codes,
    reported,
    resolution,
    seeded,
    user,
)

# -- R18 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r18_response_sees_half_applied_edit(strategy: str) -> None:
    """R18 A response sees a half-applied edit: a summary is delete(u0 a0 u1) + create(s);
    a VAD response starting between them sees neither the old turns nor the summary."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"), auto_reply=True)
    ctx = p.snapshot()
    for item_id in ("u0", "a0", "u1"):
        ctx.remove(item_id)
    ctx.insert_after(None, Message(id="s", role="system", content="Booked a table for 4."))
    p.push(ctx)
    asked = p.generate_reply()  # the summarizer asks the agent to go on
    if strategy == "accord":
        assert not any(isinstance(op, ev.CreateResponse) for op in p.up)  # held for the acks

    p.deliver_up(1)  # the server has applied the batch's first op...
    p.server_user_audio("u2")
    vad = p.server_start()  # ...when the user speaks and VAD starts a response
    view = p.response_views[vad]
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))
    p.server_transcript("u2", "Make it five.")
    p.server_add(vad, assistant("a2"))
    p.server_finish(vad)
    p.settle()

    if strategy == "accord":
        assert {"s", "u0", "a0", "u1"} <= set(view)  # a superset, never a hole
        # The VAD response was created after the summary landed: it answers what the
        # summarizer's request would have (and the user's turn), so that request is not
        # sent after it to answer the same conversation again (no duplicate reply).
        assert [rid for rid in p.response_views if rid != vad] == []
        assert asked not in p.log.ops
        assert_accord_converged(p, ["s", "a1", "u2", "a2"])
        assert p.errors == []
    else:
        assert "u0" not in view and "s" not in view  # u0 is in neither form: a hole
        assert error_codes(p) == [BUSY]  # and its own response.create hit the VAD one
        assert p.server_ids() == ["s", "a1", "u2", "a2"]


# -- R19 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r19_out_of_band_responses(strategy: str) -> None:
    """R19 Out-of-band responses: `response.create` with `conversation: "none"` produces
    output items with ids but no `conversation.item.added`; it may run beside the in-band
    response."""
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"), auto_reply=True)
    p.server_user_audio("u2")
    p.server_transcript("u2", "What about dessert?")
    r1 = p.server_start()  # a VAD response is streaming a2
    p.server_add(r1, assistant("a2", "We have"), done=False)
    p.deliver_down(len(p.down))

    summary = p.generate_reply(
        out_of_band=True, metadata={"purpose": "summary"}, input_items=("u0", "a0", "u1")
    )
    p.deliver_up(1)  # the out-of-band response runs beside r1
    (oob_item,) = [e.item_id for e in p.down if isinstance(e, ev.OutputItemAdded)]
    p.deliver_down(len(p.down))  # ...and finishes; r1 is still running
    asked = p.generate_reply()  # the agent's own in-band reply
    if strategy == "accord":
        assert list(p.up) == []  # waits for r1: its slot is not freed by the other one
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))
    p.server_stream(assistant("a2", "We have tiramisu."), done=True)
    p.server_finish(r1)
    p.settle()

    assert oob_item not in [item.id for item in p.client.mirror_items()]
    history = ["u0", "a0", "u1", "a1", "u2", "a2"]
    if strategy == "accord":
        assert resolution(p, summary) == ("success", None)  # matched by its metadata
        assert resolution(p, asked) == ("success", None)
        (reply_rid,) = [rid for rid in p.response_views if rid != r1]
        assert_accord_converged(p, [*history, f"a_{reply_rid}"])
        assert p.errors == []
    else:
        assert error_codes(p) == [BUSY]  # its reply went beside r1 and was refused
        assert p.server_ids() == history  # never answered


# -- R20 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r20_retrieve_is_a_snapshot(strategy: str) -> None:
    """R20 Retrieve is a snapshot: `conversation.item.retrieve` answers with the item as
    it was, or `item_retrieve_invalid_item_id` after a concurrent delete.

    The harness has no retrieve: the server's answer is fed as the item's content
    (``ItemUpdated``), and the application later pushes a context built from scratch out
    of what it retrieved.
    """
    p = seeded(strategy, user("u0"), assistant("a0"), user("u1"), assistant("a1"))
    retrieved = p.store.get("a0")
    assert retrieved is not None
    ctx = p.snapshot()
    ctx.remove("a0")
    p.push(ctx)  # delete(a0) is in transit
    p.emit(ev.ItemUpdated(retrieved, done=True))  # retrieve(a0), served before the delete
    p.deliver_up(1)
    p.server_error(  # a second retrieve(a0), served after it
        "item_retrieve_invalid_item_id",
        "Error retrieving item: the item with id 'a0' does not exist.",
        "evt_app_retrieve",
    )
    p.settle()
    assert p.server_ids() == ["u0", "u1", "a1"]
    assert p.client.mirror_items() == p.store.items()

    rebuilt = [p.store.get("u0"), retrieved, p.store.get("u1"), p.store.get("a1")]
    p.push(ChatContext(item for item in rebuilt if item is not None))
    p.settle()

    assert error_codes(p) == ["item_retrieve_invalid_item_id"]
    if strategy == "accord":
        assert_accord_converged(p, ["u0", "u1", "a1"])  # the snapshot resurrects nothing
    else:
        assert p.server_ids() == ["u0", "a0", "u1", "a1"]  # a0 is back


# -- R21 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    ["accord", "naive"],
)
def test_r21_session_update_racing_the_conversation(strategy: str) -> None:
    """R21 session.update racing the conversation: a VAD response can start between
    `session.update` and item creates. accord: on reconnect, `session.update` with VAD
    off, restore, wait for acks, re-enable VAD.

    The server's VAD (on by default) starts a response as soon as it can once the restore
    begins; a client that turned VAD off first gives it no chance.
    """
    p = Pair(strategy, server_vad=strategy == "accord")
    history = [user("u0"), assistant("a0"), user("u1"), assistant("a1")]
    ctx = p.snapshot()
    for item in history:
        ctx.append(item)
    p.push(ctx)
    p.settle()
    p.drop()

    p.reconnect(settle=False)  # a new, empty session: the restore is in the up channel
    restore = list(p.up)
    vad_on, vad_responses = True, []
    while p.up:  # the server works through it; its VAD is live until told otherwise
        op = p.up[0]
        p.deliver_up(1)
        if isinstance(op, ev.UpdateSession):
            vad_on = op.server_vad
        elif vad_on and not vad_responses:
            vad_responses.append(p.server_start())  # noise: VAD starts a response
            p.server_finish(vad_responses[0])
    before_acks = list(p.up)
    p.deliver_down(len(p.down))  # the client sees the restore's acks
    after_acks = list(p.up)
    p.settle()

    ids = [item.id for item in history]
    if strategy == "accord":
        assert vad_responses == []  # no response saw a half-restored conversation
        first, *creates = restore
        assert first == ev.UpdateSession(first.event_id, server_vad=False)
        assert all(isinstance(op, ev.CreateItem) for op in creates)
        assert sorted(op.item.id for op in creates if isinstance(op, ev.CreateItem)) == sorted(ids)
        assert before_acks == []
        (last,) = after_acks  # VAD back on once the restore is acknowledged
        assert last == ev.UpdateSession(last.event_id, server_vad=True)
        assert_accord_converged(p, ids)
    else:
        assert not any(isinstance(op, ev.UpdateSession) for op in restore)
        (vad,) = vad_responses
        assert p.response_views[vad] == ["u0"]  # it saw a half-restored conversation
        assert p.server_ids() == ids


# -- R22 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    ["accord", "naive"],
)
def test_r22_ids(strategy: str) -> None:
    """R22 Ids: `conversation.item.added` does not echo the client's event_id; a create
    without a client id cannot be matched. accord: always assigns ids; maps framework ids
    longer than 32 characters or outside `[A-Za-z0-9_-]` through an alias map."""
    p = seeded(strategy, user("u0"))
    framework_id = "lk.chat-msg/3f9c2b1e-7d4a-4b8e-9c1f-2a6d8e0b5c47"
    ctx = p.snapshot()
    ctx.append(Message(id=framework_id, role="user", content="typed in the app"))
    p.push(ctx)
    p.settle()

    if strategy == "accord":
        assert p.errors == []
        assert p.violations() == []
        u0, typed = p.store.items()
        assert u0.id == "u0" and is_wire_safe(typed.id)
        assert typed == Message(id=typed.id, role="user", content="typed in the app")
        assert p.client.mirror_items() == p.store.items()
        p.push(ctx)  # the same context again, still naming the framework id
        assert list(p.up) == []
    else:
        assert error_codes(p) == ["string_above_max_length"]
        assert p.server_ids() == ["u0"]
        assert reported(p) == {(Invariant.CONVERGENCE, framework_id)}
