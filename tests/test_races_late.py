"""Races R12..R17 of docs/races.md, one scripted timeline each, for both strategies.

Each test plays its race on a :class:`~accord.verify.harness.Pair` one event at a time
(``deliver_up`` / ``deliver_down`` force the interleaving the catalogue describes). For
accord it asserts what the server ends up holding, mirror == server and no invariant
broken; for the naive strategy it asserts the failure the catalogue describes: which
invariant the checker reports, or the observable failure where it is not an invariant.
R18..R22 are in :mod:`test_races_last`; the shared helpers in :mod:`races_late_support`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.engine import events as ev
from accord.items import Message
from accord.verify.checker import Invariant
from accord.verify.harness import BUSY_MESSAGE, Pair
from races_late_support import (
    BUSY,
    STRATEGIES,
    assert_accord_converged,
    assistant,
    call,
    error_codes,
    found,
    output_id,
    reported,
    resolution,
    seeded,
    sent_ids,
    user,
)

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
        # so is the truncation: the stale copy is re-created with every word (and, as a
        # conversation.item.create carries no audio length, with none)
        assert (a5.content, a5.audio_ms) == (spoken, None)
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
