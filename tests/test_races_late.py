"""Races R12..R22 of docs/races.md, one scripted timeline each, for both strategies.

Each test plays its race on a :class:`~accord.verify.harness.Pair` one event at a time
(``deliver_up`` / ``deliver_down`` force the interleaving the catalogue describes). For
accord it asserts what the server ends up holding, mirror == server and no invariant
broken; for the naive strategy it asserts the failure the catalogue describes: which
invariant the checker reports, or the observable failure where it is not an invariant.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.engine import events as ev
from accord.engine.engine import EngineConfig, SyncEngine
from accord.ids import is_wire_safe
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.verify.checker import Invariant
from accord.verify.harness import BUSY_MESSAGE, Pair

STRATEGIES = ["accord", "naive"]
BUSY = "conversation_already_has_active_response"


def user(item_id: str, text: str = "") -> Message:
    return Message(id=item_id, role="user", content=text or f"user {item_id}")


def assistant(item_id: str, text: str = "", *, audio_ms: int | None = None) -> Message:
    """An assistant message; spoken (audio of ``audio_ms``) when a length is given."""
    content = text or f"assistant {item_id}"
    audio = audio_ms is not None
    return Message(id=item_id, role="assistant", content=content, audio=audio, audio_ms=audio_ms)


def call(item_id: str, call_id: str, name: str = "lookup", arguments: str = "{}") -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name=name, arguments=arguments)


def reply(p: Pair, rid: str) -> list[Item]:
    """The server's answer to a client ``response.create``: one assistant message."""
    return [assistant(f"a_{rid}")]


def seeded(strategy: str, *items: Item, auto_reply: bool = False) -> Pair:
    """A pair whose conversation holds ``items`` (pushed and settled); with
    ``auto_reply`` the server answers each client ``response.create`` with :func:`reply`."""
    p = Pair(strategy, auto_reply=reply if auto_reply else None)
    ctx = p.snapshot()
    for item in items:
        ctx.append(item)
    p.push(ctx)
    p.settle()
    return p


def found(p: Pair) -> set[Invariant]:
    return {v.invariant for v in p.violations()}


def reported(p: Pair) -> set[tuple[Invariant, str | None]]:
    """(invariant, item) pairs the checker reports."""
    return {(v.invariant, v.item_id) for v in p.violations()}


def error_codes(p: Pair) -> list[str | None]:
    return [e.code for e in p.errors]


def output_id(p: Pair, call_id: str) -> str:
    """The id of the output for ``call_id`` on the server (the client chose it)."""
    return next(
        item.id
        for item in p.store.items()
        if isinstance(item, FunctionCallOutput) and item.call_id == call_id
    )


def assert_accord_converged(p: Pair, ids: list[str]) -> None:
    assert p.violations() == []
    assert p.server_ids() == ids
    assert p.client.mirror_items() == p.store.items()


def resolution(p: Pair, event_id: str) -> tuple[str, str | None]:
    (res,) = [r for r in p.log.resolutions if r.event_id == event_id]
    return res.status, res.code


def sent_ids(p: Pair, kind: str) -> list[str]:
    """Event ids of the operations of ``kind`` the client sent (each logged once)."""
    return [op.event_id for op in p.log.ops.values() if op.kind == kind]


# -- R12 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r12_local_only_tail(strategy: str) -> None:
    """R12 Local-only tail: the agent's context ends with an item that exists only locally
    when the server adds fc6 after the last *server* item.

    The agent's context is [u0 a0 note]; the server's response adds fc6 after a0, which is
    not the local tail, so the agent's context never gets it (LiveKit's copy rule). The
    tool runs; the next push trims u0 and sends the note.
    """
    p = seeded(strategy, user("u0"), assistant("a0"))
    local = p.snapshot()
    local.append(Message(id="note", role="system", content="Answer in one sentence."))

    rid = p.server_start()
    p.server_add(rid, call("fc6", "call_6"))  # conversation.item.added(fc6, prev=a0)
    p.server_finish(rid)
    p.deliver_down(len(p.down))
    assert [c.id for c in p.ready_calls] == ["fc6"]
    p.tool_started("call_6")

    local.remove("u0")  # the next push: a trim, from the context that never got fc6
    p.push(local)
    p.settle()
    p.tool_finished("call_6", '{"found": 3}')
    p.settle()

    if strategy == "accord":
        assert_accord_converged(p, ["a0", "fc6", output_id(p, "call_6"), "note"])
        assert p.errors == []
    else:
        assert "fc6" not in p.server_ids()  # the push deleted it
        assert error_codes(p) == ["invalid_tool_call_id"]  # then its output failed
        assert found(p) == {Invariant.NO_LOST_ITEM, Invariant.CONVERGENCE}
        lost = {v.item_id for v in p.violations() if v.invariant is Invariant.NO_LOST_ITEM}
        assert lost == {"fc6"}


# -- R13 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r13_server_side_content_change(strategy: str) -> None:
    """R13 Server-side content change: the server fills in u5's transcript, or confirms a
    truncation of a5, after the writer took its snapshot; the writer pushes u5 and a5
    unchanged from its (older) base."""
    p = seeded(strategy, user("u0"), assistant("a0"))
    p.server_user_audio("u5")  # VAD: user audio, transcript pending
    rid = p.server_start()
    spoken = "Tomorrow will be sunny with a light breeze."
    p.server_add(rid, assistant("a5", spoken, audio_ms=3000))
    p.deliver_down(len(p.down))

    ctx = p.snapshot()  # the writer's snapshot: u5 without transcript, a5 whole

    p.interrupt("a5", 1200)  # barge-in: cancel, truncate a5 at 1200 ms
    p.deliver_up(2)
    p.server_transcript("u5", "What's the weather tomorrow?")
    p.deliver_down(len(p.down))  # truncation confirmed, transcript in

    ctx.remove("u0")  # the writer trims u0; u5 and a5 are as in its base
    p.push(ctx)
    p.settle()

    u5, a5 = p.store.get("u5"), p.store.get("a5")
    assert isinstance(u5, Message) and isinstance(a5, Message)
    if strategy == "accord":
        assert_accord_converged(p, ["a0", "u5", "a5"])
        assert u5.content == "What's the weather tomorrow?"
        assert (a5.content, a5.audio_ms) == ("", 1200)
        assert p.errors == []
    else:
        assert p.server_ids() == ["a0", "u5", "a5"]
        assert u5.content is None  # the transcript is lost
        assert (a5.content, a5.audio_ms) == (spoken, 3000)  # so is the truncation
        # Stale copies re-created: their deletes were not the writer's edits (1), and the
        # server now holds content no writer asked for (3).
        assert reported(p) == {
            (Invariant.NO_LOST_ITEM, "u5"),
            (Invariant.NO_LOST_ITEM, "a5"),
            (Invariant.CONVERGENCE, "u5"),
            (Invariant.CONVERGENCE, "a5"),
        }


# -- R14 -------------------------------------------------------------------------------


def _r14_call_running(strategy: str) -> Pair:
    """u0; a response emits fc1 and ends; the tool starts."""
    p = seeded(strategy, user("u0"), auto_reply=True)
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.deliver_down(len(p.down))
    p.tool_started("call_1")
    return p


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r14_follow_up_retried_after_vad_response(strategy: str) -> None:
    """R14 Follow-up against a VAD auto-response: a tool output is created and the
    follow-up `response.create` sent, but the user spoke and the server's VAD already
    started a response: `conversation_already_has_active_response`.

    Here the VAD response started before the output was added: it does not see out1,
    so the follow-up must run after it.
    """
    p = _r14_call_running(strategy)
    p.server_user_audio("u2")
    vad = p.server_start()  # the user spoke while the tool ran
    p.tool_finished("call_1", '{"temp": 3}')
    p.deliver_up(1)  # out1 is created while the VAD response runs
    out1 = output_id(p, "call_1")
    assert out1 not in p.response_views[vad]
    p.deliver_down(len(p.down))
    p.deliver_up(len(p.up))  # whatever follow-up the client sent by now
    p.deliver_down(len(p.down))
    p.server_transcript("u2", "Thanks, and tomorrow?")
    p.server_add(vad, assistant("a2"))
    p.server_finish(vad)
    p.settle()

    seeing_out1 = [rid for rid, view in p.response_views.items() if out1 in view]
    if strategy == "accord":
        (follow_up,) = seeing_out1  # one follow-up, after the VAD response
        assert_accord_converged(p, ["u0", "fc1", out1, "u2", "a2", f"a_{follow_up}"])
        assert p.errors == []
        assert len(sent_ids(p, "response.create")) == 1
    else:
        assert error_codes(p) == [BUSY]
        assert seeing_out1 == []  # the follow-up is lost: nothing answers the output
        assert p.server_ids() == ["u0", "fc1", out1, "u2", "a2"]


@pytest.mark.parametrize(
    "strategy",
    ["accord", "naive"],
)
def test_r14_follow_up_dropped_when_vad_response_sees_output(strategy: str) -> None:
    """R14 Follow-up against a VAD auto-response: a tool output is created and the
    follow-up `response.create` sent, but the user spoke and the server's VAD already
    started a response: `conversation_already_has_active_response` (its `error.event_id`
    may be null, so match it by type and timing too).

    Here the VAD response started after out1 was added: it already sees the output, so
    the refused follow-up must be dropped, not answered a second time.
    """
    p = _r14_call_running(strategy)
    p.tool_finished("call_1", '{"temp": 3}')
    p.deliver_up(1)  # out1 on the server
    out1 = output_id(p, "call_1")
    p.server_user_audio("u2")
    vad = p.server_start()  # VAD starts a response that sees out1
    assert out1 in p.response_views[vad]
    p.deliver_down(len(p.down))  # out1's ack, then response.created(vad)
    (request,) = p.up  # the follow-up, sent when out1 was acknowledged
    assert isinstance(request, ev.CreateResponse)
    p.up.popleft()  # the server refuses it, with a null error.event_id
    p.server_error(BUSY, BUSY_MESSAGE.format(rid=vad), None)
    p.deliver_down(len(p.down))
    p.server_transcript("u2", "Thanks!")
    p.server_add(vad, assistant("a2"))
    p.server_finish(vad)
    p.settle()

    assert error_codes(p) == [BUSY]
    seeing_out1 = [rid for rid, view in p.response_views.items() if out1 in view]
    assert seeing_out1 == [vad]  # answered once, by the VAD response
    assert p.server_ids() == ["u0", "fc1", out1, "u2", "a2"]
    if strategy == "accord":
        assert_accord_converged(p, ["u0", "fc1", out1, "u2", "a2"])
    else:
        # The naive client never retries (so it is not answered twice here), but it took
        # the VAD response for the answer to its own request.
        assert sent_ids(p, "response.create") == [request.event_id]
        assert resolution(p, request.event_id) == ("success", None)


# -- R15 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r15_cancel_and_truncate_races(strategy: str) -> None:
    """R15 Cancel and truncate races: `response.cancel` after VAD's own interruption
    already cancelled the response gives `response_cancel_not_active`: not a desync. A
    truncate may target an item a push just deleted."""
    p = seeded(strategy, user("u0"))
    r1 = p.server_start()
    p.server_add(r1, assistant("a1", "Our opening hours are", audio_ms=2000))
    p.deliver_down(len(p.down))

    p.server_finish(r1, "cancelled")  # the server's VAD cancels r1 itself...
    p.interrupt("a1", 800)  # ...while the client's barge-in cancels and truncates
    cancel, truncate_a1 = p.up
    assert isinstance(cancel, ev.CancelResponse)  # truncate follows cancel
    assert isinstance(truncate_a1, ev.TruncateItem)
    p.deliver_up(2)
    p.deliver_down(len(p.down))

    p.server_user_audio("u2")
    p.server_transcript("u2", "And on Sunday?")
    r2 = p.server_start()
    p.server_add(r2, assistant("a2", "On Sunday we are closed.", audio_ms=1500))
    p.server_finish(r2)
    p.deliver_down(len(p.down))
    ctx = p.snapshot()
    ctx.remove("a2")  # a policy drops a2...
    p.push(ctx)
    p.interrupt("a2", 500)  # ...as a late barge-in truncates it
    (truncate_a2,) = [op for op in p.up if isinstance(op, ev.TruncateItem)]
    p.settle()

    a1 = p.store.get("a1")
    assert isinstance(a1, Message) and a1.audio_ms == 800
    assert p.server_ids() == ["u0", "a1", "u2"]
    if strategy == "accord":
        assert_accord_converged(p, ["u0", "a1", "u2"])
        assert error_codes(p) == ["response_cancel_not_active", "item_truncate_invalid_item_id"]
        assert resolution(p, cancel.event_id) == ("success", None)
        assert resolution(p, truncate_a2.event_id) == ("success", None)  # moot
    else:
        assert resolution(p, truncate_a2.event_id) == ("error", "item_truncate_invalid_item_id")
        assert "response_cancel_not_active" in [
            r.code for r in p.log.resolutions if r.status == "error"
        ]


# -- R16 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r16_parallel_function_calls(strategy: str) -> None:
    """R16 Parallel function calls: one response emits fc1 and fc2; if out1 is created
    while the response still streams, the server anchors fc2 after out1. A push between
    out1 and out2 must keep fc2 in flight."""
    p = seeded(strategy, user("u0"), auto_reply=True)
    r1 = p.server_start()
    p.server_add(r1, call("fc1", "call_1", "weather", '{"city": "Oslo"}'))
    p.deliver_down(len(p.down))
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"temp": 3}')
    p.deliver_up(1)  # out1 is created while r1 still streams
    out1 = output_id(p, "call_1")
    p.deliver_down(len(p.down))
    ctx = p.snapshot()  # a policy's snapshot: u0 fc1 out1

    p.server_add(r1, call("fc2", "call_2", "weather", '{"city": "Bergen"}'))
    assert p.server_ids() == ["u0", "fc1", out1, "fc2"]  # fc2 anchored after out1
    p.deliver_down(len(p.down))
    p.tool_started("call_2")

    ctx.remove("u0")  # the push between out1 and out2
    p.push(ctx)
    p.deliver_up(len(p.up))
    p.deliver_down(len(p.down))
    p.server_finish(r1)
    p.deliver_down(len(p.down))
    p.tool_finished("call_2", '{"temp": 5}')
    p.settle()

    if strategy == "accord":
        out2 = output_id(p, "call_2")
        (follow_up,) = [rid for rid in p.response_views if rid != r1]
        assert_accord_converged(p, ["fc1", out1, "fc2", out2, f"a_{follow_up}"])
        assert p.errors == []
        assert len(sent_ids(p, "response.create")) == 1  # one follow-up...
        assert {out1, out2} <= set(p.response_views[follow_up])  # ...after all outputs
    else:
        assert "fc2" not in p.server_ids()
        assert error_codes(p) == [BUSY, "invalid_tool_call_id"]
        assert len(sent_ids(p, "response.create")) == 2  # a follow-up per output
        assert found(p) == {Invariant.NO_LOST_ITEM, Invariant.CONVERGENCE}
        lost = [v for v in p.violations() if v.invariant is Invariant.NO_LOST_ITEM]
        assert [(v.item_id, v.detail) for v in lost] == [
            ("fc2", "deleted while in flight on the server")
        ]


# -- R17 -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_r17_server_created_user_items(strategy: str) -> None:
    """R17 Server-created user items: a transcription `.completed` / `.failed` can arrive
    after the item was deleted or rewritten.

    A redaction policy rewrites u1 (VAD-committed audio, transcript pending); the
    transcript arrives after the push.
    """
    p = seeded(strategy, user("u0"), assistant("a0"))
    p.server_user_audio("u1")
    rid = p.server_start()
    p.server_add(rid, assistant("a1", "Sure, I can help with that."))
    p.server_finish(rid)
    p.deliver_down(len(p.down))

    ctx = p.snapshot()
    u1 = ctx.get("u1")
    assert isinstance(u1, Message)
    ctx.replace(replace(u1, content="[redacted]", audio=False))
    p.push(ctx)
    p.deliver_up(len(p.up))
    p.server_transcript("u1", "My card number is 4111 1111 1111 1111")
    p.deliver_down(len(p.down))
    p.settle()

    texts = [item.text for item in p.store.items() if isinstance(item, Message)]
    assert not any("4111" in text for text in texts)
    if strategy == "accord":
        (report,) = [r for r in p.reports if "u1" in r.deferred]  # in flight: deferred
        ((_, redacted),) = report.aliased
        assert_accord_converged(p, ["u0", "a0", redacted, "a1"])
        assert p.store.get(redacted) == Message(id=redacted, role="user", content="[redacted]")
        assert p.errors == []
    else:
        assert p.server_ids() == ["u0", "a0", "u1", "a1"]
        # u1 was deleted while its transcript was pending, and the late transcript lands
        # on the rewritten u1 in the naive mirror (the server left it alone).
        assert reported(p) == {(Invariant.NO_LOST_ITEM, "u1"), (Invariant.CONVERGENCE, "u1")}
        assert any(v.detail.startswith("content differs") for v in p.violations())


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
    p = Pair(strategy)
    if strategy == "accord":
        p.client = SyncEngine(EngineConfig(server_vad=True), seed=0)
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
