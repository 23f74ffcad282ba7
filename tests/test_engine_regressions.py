"""Regressions found by an independent review of the engine: one timeline each.

Several of these were invisible to the checker at the time (a second follow-up, a lost
retraction, a misplaced create), so each test asserts what the server ends up holding
and what the client sent, not only ``violations() == []``.
"""

from __future__ import annotations

from accord.engine import events as ev
from accord.items import ChatContext, FunctionCall, Item, Message
from accord.verify.harness import Pair

BUSY = "conversation_already_has_active_response"


def user(item_id: str) -> Message:
    return Message(id=item_id, role="user", content=f"user says {item_id}")


def assistant(item_id: str, text: str | None = None) -> Message:
    return Message(id=item_id, role="assistant", content=text or f"assistant says {item_id}")


def call(item_id: str, call_id: str) -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name="lookup")


def seeded(*items: Item) -> Pair:
    p = Pair("accord")
    ctx = p.snapshot()
    for item in items:
        ctx.append(item)
    p.push(ctx)
    p.settle()
    return p


class Tap:
    """Every client op sent, in order."""

    def __init__(self, p: Pair) -> None:
        self.sent: list[ev.ClientOp] = []
        p.handle_hook = self.sent.append

    def in_band_requests(self) -> int:
        return sum(1 for o in self.sent if isinstance(o, ev.CreateResponse) and not o.out_of_band)


def tool_turn(p: Pair, *, finish_first: bool = True) -> str:
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    if finish_first:
        p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"ssn": "123-45-6789"}')
    return rid


def test_a_second_drop_during_a_restore_still_restores_and_resolves() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    p.drop()
    p.reconnect(settle=False)
    p.deliver_up(1)
    p.drop()
    p.reconnect()
    assert p.server_ids() == ["u0", "a0", "u1"]
    assert p.violations() == []
    assert p.client.is_quiet()


def test_rewriting_a_tool_output_asks_for_no_second_follow_up() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    tool_turn(p)
    p.settle()
    assert tap.in_band_requests() == 1
    ctx = p.snapshot()
    out = ctx[-1] if ctx[-1].id.startswith("out") else ctx[2]
    redacted = type(out)(id=out.id, call_id=out.call_id, output="[redacted]")  # type: ignore[call-arg,union-attr]
    ctx.replace(redacted)
    p.push(ctx)
    p.settle()
    assert tap.in_band_requests() == 1
    assert p.violations() == []


def test_a_deferred_delete_can_be_retracted() -> None:
    p = seeded(user("u0"), assistant("a0"))
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")  # fc1 is in flight while its tool runs
    ctx = p.snapshot()
    ctx.remove("fc1")
    p.push(ctx)
    assert p.reports[-1].deferred == ("fc1",)
    back = p.snapshot()  # fc1 is gone from the writer's view...
    assert "fc1" not in back
    back.append(call("fc1", "call_1"))  # ...and the writer puts it back
    p.push(back)
    p.tool_finished("call_1", '{"ok": true}')
    p.settle()
    assert p.server_ids()[:3] == ["u0", "a0", "fc1"]
    assert p.errors == []
    assert p.violations() == []


def test_an_out_of_band_response_does_not_cancel_the_follow_up() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    rid = tool_turn(p, finish_first=False)
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))  # the output lands while r1 still runs
    p.generate_reply(out_of_band=True, metadata={"purpose": "summary"})
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))
    p.server_finish(rid)
    p.settle()
    assert tap.in_band_requests() == 1
    assert p.violations() == []


def test_a_busy_error_without_event_id_answers_the_in_band_request() -> None:
    p = seeded(user("u0"))
    p.generate_reply(out_of_band=True, metadata={"purpose": "summary"})
    p.generate_reply()
    oob_op, inband_op = p.up.popleft(), p.up.popleft()
    assert isinstance(oob_op, ev.CreateResponse) and oob_op.out_of_band
    assert isinstance(inband_op, ev.CreateResponse) and not inband_op.out_of_band
    vad = p.server_start()
    p.server_error(BUSY, "Conversation already has an active response", None)
    p.deliver_down(len(p.down))
    p.up.appendleft(oob_op)
    p.server_finish(vad)
    p.settle()
    oob_sent = [e for e in p.log.ops.values() if e.kind == "response.create"]
    assert len(oob_sent) == 2  # each request logged once: the summary ran once
    assert p.client.is_quiet()
    assert p.violations() == []


def test_a_create_after_a_refused_create_lands_after_the_refused_ones_anchor() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    ctx = p.snapshot()
    ctx.append(user("n1"))
    p.push(ctx)
    ctx2 = p.snapshot()
    ctx2.append(user("n2"))
    p.push(ctx2)
    refused = p.up.popleft()
    assert isinstance(refused, ev.CreateItem) and refused.item.id == "n1"
    p.server_error("invalid_value", "refused for the test", refused.event_id)
    p.settle()
    assert p.server_ids() == ["u0", "a0", "u1", "n2"]
    assert p.client.mirror_items() == p.store.items()


def test_a_truncate_in_transit_at_a_drop_is_restored_cut() -> None:
    p = seeded(user("u0"))
    rid = p.server_start()
    spoken = Message(
        id="a5", role="assistant", content="Your flight leaves at nine", audio=True, audio_ms=4000
    )
    p.server_add(rid, spoken)
    p.settle()
    p.interrupt("a5", played_ms=1000)
    p.deliver_up(1)  # the cancel is processed, the truncate is not
    p.drop()
    p.reconnect()
    restored = p.store.get("a5")
    assert isinstance(restored, Message)
    # 26 chars * 1000 / 4000; restored as the assistant's text, which is all a
    # conversation.item.create can carry of it (no audio, no "interrupted" on the wire)
    assert restored.role == "assistant" and restored.text == "Your f"
    assert p.violations() == []


def test_an_item_deleted_before_a_reconnect_stays_deleted_after_it() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    ctx = p.snapshot()
    ctx.remove("u0")
    p.push(ctx)
    p.settle()
    p.drop()
    p.reconnect()
    no_base = ChatContext([user("u0"), assistant("a0"), user("u1"), user("u2")])
    p.push(no_base)
    p.settle()
    assert p.server_ids() == ["a0", "u1", "u2"]  # u0 is not resurrected


def test_a_tail_delete_waits_while_our_response_request_is_in_transit() -> None:
    p = seeded(user("u0"), assistant("a0"))
    p.generate_reply()
    ctx = p.snapshot()
    ctx.remove("a0")
    p.push(ctx)
    assert not [o for o in p.up if isinstance(o, ev.DeleteItem)]  # deferred
    p.settle()
    assert "a0" not in p.server_ids()
    assert p.violations() == []


def test_out_of_band_input_follows_aliases_and_holds_its_items() -> None:
    p = seeded(user("u0"), assistant("a0"))
    ctx = p.snapshot()
    ctx.replace(assistant("a0", "rewritten"))
    p.push(ctx)
    p.settle()
    new_id = p.client.aliases()["a0"]  # type: ignore[attr-defined]
    p.generate_reply(out_of_band=True, input_items=("a0",))
    request = next(o for o in p.up if isinstance(o, ev.CreateResponse))
    assert request.input_items == (new_id,)
    ctx = p.snapshot()
    ctx.remove(new_id)  # the snapshot follows the alias
    p.push(ctx)
    assert not [o for o in p.up if isinstance(o, ev.DeleteItem)]  # held for the response
    p.settle()
    assert p.server_ids() == ["u0"]
    assert p.violations() == []


def test_an_output_and_a_push_item_at_one_call_restore_in_server_order() -> None:
    """Found by the random state machine: a push's new item and a tool output both
    anchored on one call, both unsent at a drop. The projected state must order them
    as the server will (the later create right after the anchor), or the restore's
    normalisation and the restored server disagree."""
    p = seeded(user("m1"), assistant("m2"), user("m3"))
    snapshot = p.snapshot()
    rid = p.server_start()
    p.server_add(rid, call("fc5", "call4"))
    p.deliver_down(len(p.down))
    ctx = snapshot.copy()
    ctx.remove("m1")
    ctx.insert_after("m3", user("w"))
    ctx.replace(assistant("m2", "redacted"))
    p.push(ctx)
    p.tool_started("call4")
    p.tool_finished("call4", '{"ok": true}')
    p.drop()
    p.reconnect()
    p.server_finish(p.active.response_id) if p.active else None
    p.settle()
    assert p.violations() == []
    ids = p.server_ids()
    assert ids.index("fc5") < ids.index("w")
    assert ids[ids.index("fc5") + 1].startswith("out_")


def test_a_restore_keeps_an_item_the_writer_put_between_a_call_and_its_output() -> None:
    """Found by the random state machine: the writer inserts w between a call and its
    (still unacknowledged) output, then the connection drops. The restore must rebuild
    the projected order [fc, w, out], not put the output right after its call."""
    p = seeded(user("m1"), assistant("m2"))
    rid = p.server_start()
    p.server_add(rid, call("fc", "c1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("c1")
    p.tool_finished("c1", '{"ok": true}')  # the output's create is sent, not processed
    ctx = p.snapshot()
    assert ctx.ids()[-2] == "fc"
    ctx.insert_after("fc", user("w"))
    p.push(ctx)
    p.drop()
    p.reconnect()
    p.settle()
    ids = p.server_ids()
    assert ids[:4] == ["m1", "m2", "fc", "w"] and ids[4].startswith("out_")
    assert p.violations() == []


def test_a_writer_puts_back_a_message_it_saw_deleted() -> None:
    """From the explorer's review: a writer whose base lacks u1 (it saw it go) puts it
    back. Before the delete is acknowledged it is created again under its own id (the
    delete lands first); after, under a fresh id with an alias, since the server used
    the old one. Either way nothing is lost and the report says what happened."""
    for acknowledged in (False, True):
        p = seeded(user("u0"), assistant("a0"), user("u1"), assistant("a1"))
        trimmed = p.snapshot()
        trimmed.remove("u1")
        p.push(trimmed)
        if acknowledged:
            p.settle()
        undo = p.snapshot()
        undo.insert_after("a0", Message(id="u1", role="user", content="user says u1 again"))
        p.push(undo)
        p.settle()
        assert p.violations() == [], acknowledged
        (put_back,) = [i for i in p.store.items() if i.id not in ("u0", "a0", "a1")]
        assert put_back.text == "user says u1 again"
        if acknowledged:
            assert p.client.aliases()["u1"] == put_back.id
            assert any("put back" in n for r in p.reports for n in r.notes)
        else:
            assert put_back.id == "u1"


def test_a_context_built_from_scratch_never_brings_back_a_deleted_item() -> None:
    """Found by the explorer (R20): a push without a base, made while the delete of a0
    was sent but unacknowledged, re-created a0; once acknowledged it did not. Now
    neither does: a context built from scratch cannot say it saw the delete."""
    for acknowledged in (False, True):
        p = seeded(user("u0"), assistant("a0"), user("u1"))
        trimmed = p.snapshot()
        trimmed.remove("a0")
        p.push(trimmed)
        if acknowledged:
            p.settle()
        p.push(ChatContext([user("u0"), assistant("a0"), user("u1")]))
        p.settle()
        assert p.server_ids() == ["u0", "u1"], acknowledged
        assert any("not created again" in n for r in p.reports for n in r.notes)


def test_a_reply_to_a_turn_typed_while_the_tool_ran_answers_the_output_too() -> None:
    """Found by ``accord stress`` counting duplicate replies: the user typed the next
    turn while the tool ran; its reply was created after the output landed (so it saw
    the output), and the follow-up planned at the landing was still sent after it."""
    p = seeded(user("u0"))
    p.auto_reply = lambda pair, rid: [assistant(pair.new_id("a"))]
    tap = Tap(p)
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"temp": 18}')
    ctx = p.snapshot()
    ctx.append(user("u1"))  # typed while the output was on its way
    p.push(ctx)
    p.generate_reply()
    p.settle()
    assert tap.in_band_requests() == 1, "the follow-up answered the output a second time"
    replies = [i for i in p.store.items() if isinstance(i, Message) and i.role == "assistant"]
    assert len(replies) == 1
    assert p.client.is_quiet()
    assert p.violations() == []


def test_a_reply_asked_for_what_a_follow_up_already_answers_is_that_follow_up() -> None:
    """The other order, also found by ``accord stress``: the follow-up went out just
    after the user's typed turn landed (so it answered that turn too), and the reply the
    runner then asked for would have answered the same conversation a second time."""
    p = seeded(user("u0"))
    p.auto_reply = lambda pair, rid: [assistant(pair.new_id("a"))]
    tap = Tap(p)
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"temp": 18}')
    ctx = p.snapshot()
    ctx.append(user("u1"))
    p.push(ctx)
    while not tap.in_band_requests():  # the output lands, then u1 (anchored on it) ...
        assert p.deliver_up(len(p.up)) + p.deliver_down(len(p.down))
    follow_ups = tap.in_band_requests()  # ... and with u1's ack the follow-up goes out
    reply = p.generate_reply()  # the runner's reply to u1, once its push is reported
    p.settle()
    assert follow_ups == 1
    assert tap.in_band_requests() == 1, "u1 was answered twice"
    replies = [i for i in p.store.items() if isinstance(i, Message) and i.role == "assistant"]
    assert len(replies) == 1
    assert reply not in {o.event_id for o in tap.sent}
    assert p.client.is_quiet()
    assert p.violations() == []


def test_a_spoken_turn_deleted_before_its_transcript_does_not_keep_the_engine_busy() -> None:
    """Another writer (or the server) deletes the user's spoken turn while its
    transcript is awaited: nothing can transcribe a deleted item, so the engine must not
    wait for it. It did, for ever: never quiet again, so no rollover switch and no
    prune (found by the bounded-state work)."""
    p = seeded(Message(id="u0", role="user", content="hello"))
    spoken = p.server_user_audio("u1")
    p.settle()
    assert not p.client.is_quiet()  # its transcript is awaited
    p.other_writer_deletes(spoken)  # (a breach of invariant 1 by that writer, judged so)
    p.settle()
    assert p.client.is_quiet()
    assert p.server_ids() == [i.id for i in p.client.mirror_items()] == ["u0"]
