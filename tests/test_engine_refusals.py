"""The engine on every refusal the real server can send, one timeline each.

Each test drives the engine against the simulator's store (the explorer's pair) with the
exact order of events that broke it, and asserts what the server ends up holding, what
the client sent and what it reported, not only ``violations() == []``:

- a delete answered with an error other than "no such item" leaves the item where it is
  (mirror and server), is retried when the error is transient (``server_error``) and
  reported as failed when it is not;
- a tool output's create answered with an error is retried when transient; when it
  cannot be delivered the application gets :class:`~accord.engine.events.OutputFailed`
  naming the call and why;
- a busy refusal with no event id that arrives before the server's own
  ``response.created`` never produces a second reply;
- a create anchored on an item another writer deleted meanwhile is re-anchored on the
  nearest surviving predecessor and sent again, once;
- an error that names no event id is matched to the operation it answers by order and
  type (an oversized item gets ``invalid_event`` at once), so the op fails fast;
- a cancel is sent only while a response runs (one requested but not yet created is
  cancelled when it starts; none at all is nothing to cancel);
- servers of other dialects: ``conversation.item.added`` with a null previous item in
  mid-conversation, ``conversation.item.deleted`` with an empty item id.
"""

from __future__ import annotations

from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.items import Message
from accord.verify.harness import Pair
from test_engine_regressions import BUSY, Tap, assistant, call, seeded, tool_turn, user

SERVER_ERROR = "server_error"
OOPS = "The server had an error while processing your request. Sorry about that!"


def refuse_next(p: Pair, kind: type, code: str = SERVER_ERROR, message: str = OOPS) -> None:
    """Answer the first queued client op of ``kind`` with an error instead of serving it."""
    for index, op in enumerate(p.up):
        if isinstance(op, kind):
            del p.up[index]
            p.server_error(code, message, op.event_id)
            return
    raise AssertionError(f"no {kind.__name__} queued: {list(p.up)}")


def without(p: Pair, *item_ids: str) -> str:
    ctx = p.snapshot()
    for item_id in item_ids:
        ctx.remove(item_id)
    return p.push(ctx)


# -- deletes ----------------------------------------------------------------------------


def test_a_delete_refused_by_a_server_error_is_retried_and_never_leaves_the_mirror() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    tap = Tap(p)
    without(p, "u0")
    refuse_next(p, ev.DeleteItem)
    p.deliver_down(len(p.down))  # the refusal arrives; the retry goes out
    assert "u0" in p.client.mirror.ids(), "a refused delete must not leave the mirror"
    p.settle()
    deletes = [o for o in tap.sent if isinstance(o, ev.DeleteItem)]
    assert [d.item_id for d in deletes] == ["u0", "u0"]
    assert p.server_ids() == ["a0", "u1"]
    assert p.client.mirror_items() == p.store.items()
    assert p.reports[-1].failed == ()
    assert p.violations() == []


def test_a_delete_the_server_keeps_refusing_is_reported_and_the_item_stays() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    without(p, "u0")
    for _ in range(EngineConfig().retries + 1):  # the first send and every retry
        refuse_next(p, ev.DeleteItem)
        p.deliver_down(len(p.down))
    p.settle()
    assert p.server_ids() == ["u0", "a0", "u1"]
    assert p.client.mirror_items() == p.store.items()
    assert p.reports[-1].failed == (("u0", SERVER_ERROR),)
    assert "u0" in p.snapshot().ids()  # the application's context shows what the server has
    assert p.violations() == []


def test_a_delete_refused_for_good_is_not_retried() -> None:
    p = seeded(user("u0"), assistant("a0"))
    tap = Tap(p)
    without(p, "u0")
    refuse_next(p, ev.DeleteItem, "invalid_request_error", "Deleting this item is not allowed.")
    p.settle()
    assert sum(isinstance(o, ev.DeleteItem) for o in tap.sent) == 1
    assert p.server_ids() == ["u0", "a0"]
    assert p.reports[-1].failed == (("u0", "invalid_request_error"),)
    assert p.client.mirror_items() == p.store.items()


def test_a_delete_of_an_item_already_gone_is_still_moot() -> None:
    p = seeded(user("u0"), assistant("a0"))
    without(p, "u0")
    p.store.delete("u0")  # another writer removed it first; its delete event is lost
    p.settle()
    assert p.server_ids() == ["a0"]
    assert p.client.mirror_items() == p.store.items()
    assert p.reports[-1].failed == ()


# -- tool outputs -----------------------------------------------------------------------


def test_a_tool_output_refused_by_a_server_error_is_sent_again_and_answered_once() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"temp": 18}')
    refuse_next(p, ev.CreateItem)
    p.settle()
    outputs = [o for o in tap.sent if isinstance(o, ev.CreateItem)]
    assert len(outputs) == 2 and outputs[0].item == outputs[1].item
    assert [i.id for i in p.store.items()][:3] == ["u0", "fc1", outputs[0].item.id]
    assert tap.in_band_requests() == 1  # one follow-up, after the output landed
    assert p.client.mirror_items() == p.store.items()
    assert p.violations() == []


def test_a_tool_output_that_cannot_be_delivered_is_reported_by_call_id() -> None:
    p = seeded(user("u0"))
    events: list[ev.Effect] = []
    handle = p.handle

    def keep(effects: object) -> None:
        effects = list(effects)  # type: ignore[call-overload]
        events.extend(effects)
        handle(effects)

    p.handle = keep  # type: ignore[method-assign]
    rid = p.server_start()
    p.server_add(rid, call("fc1", "call_1"))
    p.server_finish(rid)
    p.settle()
    p.tool_started("call_1")
    p.tool_finished("call_1", '{"temp": 18}')
    refuse_next(p, ev.CreateItem, "invalid_value", "Invalid 'item.output': too long.")
    p.settle()
    failed = [e for e in events if isinstance(e, ev.OutputFailed)]
    assert len(failed) == 1
    assert failed[0].call_id == "call_1"
    assert failed[0].code == "invalid_value"
    assert "too long" in failed[0].message


# -- response.create --------------------------------------------------------------------


def test_an_early_busy_refusal_without_event_id_never_makes_a_second_reply() -> None:
    """The server starts its own response after the output; our follow-up is refused
    with ``event_id: null`` before that response's ``response.created`` arrives."""
    p = seeded(user("u0"))
    tap = Tap(p)
    tool_turn(p)
    p.deliver_up(len(p.up))  # the output lands ...
    p.deliver_down(len(p.down))  # ... its ack arrives: the follow-up is sent
    follow_up = p.up.popleft()
    assert isinstance(follow_up, ev.CreateResponse)
    # The server had started a response of its own when the follow-up arrived.
    p.server_error(BUSY, "Conversation already has an active response in progress", None)
    p.deliver_down(len(p.down))  # the refusal first ...
    own = p.server_start()  # ... then the server's response.created
    p.server_add(own, assistant("a1", "18 degrees"))
    p.server_finish(own)
    p.settle()
    assert tap.in_band_requests() == 1, "the refused follow-up was sent again"
    replies = [i for i in p.store.items() if isinstance(i, Message) and i.role == "assistant"]
    assert [r.id for r in replies] == ["a1"]
    assert p.client.is_quiet()
    assert p.violations() == []


def test_a_response_create_refused_by_a_server_error_is_sent_again() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    p.auto_reply = lambda pair, rid: [assistant(pair.new_id("a"))]
    p.generate_reply()
    refuse_next(p, ev.CreateResponse)
    p.settle()
    assert tap.in_band_requests() == 2
    replies = [i for i in p.store.items() if isinstance(i, Message) and i.role == "assistant"]
    assert len(replies) == 1
    assert p.client.is_quiet()


def test_an_out_of_band_response_waits_for_the_creates_of_the_items_it_reads() -> None:
    """Stress at a 5 % server_error rate: a summarizer's out-of-band request named an
    item whose create had been refused and was waiting for its retry; the request went
    out first and the server answered ``invalid_value: Item with id ... not found``."""
    p = seeded(user("u0"))
    ctx = p.snapshot()
    ctx.append(user("u1"))
    p.push(ctx)
    refuse_next(p, ev.CreateItem)  # u1's create: server_error, a retry will follow
    p.generate_reply(out_of_band=True, input_items=("u0", "u1"))

    def out_of_band_queued() -> bool:
        return any(isinstance(o, ev.CreateResponse) and o.out_of_band for o in p.up)

    assert not out_of_band_queued(), "sent while u1 was not on the server"
    p.deliver_down(len(p.down))  # the refusal arrives: the retry goes out
    assert not out_of_band_queued(), "sent behind a create that may be refused again"
    p.deliver_up(len(p.up))  # the retry lands ...
    p.deliver_down(len(p.down))  # ... and its ack arrives
    assert out_of_band_queued()
    p.settle()
    assert p.server_ids()[:2] == ["u0", "u1"]
    assert p.client.is_quiet()
    assert p.violations() == []


# -- anchors ----------------------------------------------------------------------------


def test_a_create_whose_anchor_another_writer_deleted_is_re_anchored_once() -> None:
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    ctx = p.snapshot()
    ctx.append(user("n1"))  # anchored on u1
    p.push(ctx)
    # Another writer (a second connection, the server) deletes u1 before n1 arrives.
    p.store.delete("u1")
    p.emit(ev.ItemDeleted("u1"))
    p.settle()
    assert p.server_ids() == ["u0", "a0", "n1"]
    assert p.client.mirror_items() == p.store.items()
    assert p.reports[-1].failed == ()


# -- errors without an event id ---------------------------------------------------------


def test_an_error_without_event_id_fails_the_operation_it_answers_at_once() -> None:
    p = seeded(user("u0"))
    ctx = p.snapshot()
    ctx.append(Message(id="big", role="user", content="x" * 20_000))
    p.push(ctx)
    create = p.up.popleft()
    assert isinstance(create, ev.CreateItem)
    p.server_error("invalid_event", "The event exceeds the maximum size of 15728640 bytes.")
    p.settle()
    assert p.reports[-1].failed == (("big", "invalid_event"),)
    assert "big" not in p.snapshot().ids()
    p.auto_reply = lambda pair, rid: [assistant(pair.new_id("a"))]
    p.generate_reply()  # the next turn is not stuck behind the refused create
    p.settle()
    assert p.client.is_quiet()
    assert p.violations() == []


def test_an_unrelated_error_without_event_id_fails_no_operation() -> None:
    p = seeded(user("u0"))
    ctx = p.snapshot()
    ctx.append(user("n1"))
    p.push(ctx)
    p.server_error("rate_limit_exceeded", "Rate limit reached.")  # answers nothing we sent
    p.settle()
    assert p.server_ids() == ["u0", "n1"]
    assert p.reports[-1].failed == ()


# -- cancel -----------------------------------------------------------------------------


def test_no_cancel_is_sent_when_no_response_runs() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    p.interrupt()
    p.settle()
    assert not any(isinstance(o, ev.CancelResponse) for o in tap.sent)
    assert p.errors == []
    assert p.client.is_quiet()


def test_a_cancel_waits_for_the_requested_response_to_start() -> None:
    p = seeded(user("u0"))
    tap = Tap(p)
    p.generate_reply()
    p.interrupt()  # before response.created: the real server would ignore a cancel now
    assert not any(isinstance(o, ev.CancelResponse) for o in tap.sent)
    request = p.up.popleft()
    assert isinstance(request, ev.CreateResponse)
    rid = p.server_start(metadata=request.metadata)
    p.deliver_down(len(p.down))  # response.created: now the cancel goes
    cancels = [o for o in tap.sent if isinstance(o, ev.CancelResponse)]
    assert len(cancels) == 1
    p.settle()
    assert rid not in {r.response_id for r in ([p.active] if p.active else [])}
    assert p.errors == []
    assert p.client.is_quiet()


# -- other dialects ---------------------------------------------------------------------


def test_a_null_previous_item_in_mid_conversation_appends_the_item() -> None:
    """xAI's server sends ``previous_item_id: null`` for items it appends."""
    p = seeded(user("u0"), assistant("a0"))
    rid = p.server_start()
    outcome = p.store.add_output_item(assistant("a1"), rid)
    p.emit(ev.OutputItemAdded(rid, "a1"), ev.ItemAdded(outcome.item, None))
    p.server_finish(rid)
    p.settle()
    assert p.client.mirror.ids() == ["u0", "a0", "a1"]
    assert p.client.mirror_items() == p.store.items()


def test_a_deleted_event_with_an_empty_item_id_answers_the_oldest_delete() -> None:
    """xAI's server acknowledges a delete with ``item_id: ""``."""
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    without(p, "u0")
    delete = p.up.popleft()
    assert isinstance(delete, ev.DeleteItem)
    p.store.delete(delete.item_id, event_id=delete.event_id)
    p.emit(ev.ItemDeleted(""))
    p.settle()
    assert p.client.mirror.ids() == ["a0", "u1"]
    assert p.client.mirror_items() == p.store.items()
    assert p.client.is_quiet()


# -- a restore refused in the middle ------------------------------------------------------


def test_a_restore_create_refused_by_a_server_error_lands_in_its_place() -> None:
    """Stress at a 5 % server_error rate judged a restore "restored in another order":
    a create of the restore refused and retried must land where it was, not where its
    retry's anchor happens to be."""
    for refused in range(5):
        p = seeded(user("u0"), assistant("a0"), user("u1"), assistant("a1"), user("u2"))
        before = p.server_ids()
        p.drop()
        p.reconnect(settle=False)
        creates = [o for o in p.up if isinstance(o, ev.CreateItem)]
        if refused >= len(creates):
            break
        target = creates[refused]
        index = list(p.up).index(target)
        del p.up[index]
        p.server_error(SERVER_ERROR, OOPS, target.event_id)
        p.settle()
        assert p.server_ids() == before, (refused, p.server_ids())
        assert p.client.mirror_items() == p.store.items()
        assert p.violations() == [], refused


def test_an_item_after_an_output_refused_in_a_restore_still_lands_after_the_output() -> None:
    """Items after a call's output were restored anchored on the item before the output
    (to spare a round trip), relying on landing before it; refused and sent again after
    the output had landed, the item went in between the call and its output."""
    p = seeded(user("u0"), assistant("a0"), user("u1"))
    tool_turn(p)
    p.settle()
    ctx = p.snapshot()
    ctx.append(user("u9"))
    p.push(ctx)
    p.drop()
    p.reconnect(settle=False)

    def u9_queued() -> ev.CreateItem | None:
        return next((o for o in p.up if isinstance(o, ev.CreateItem) and o.item.id == "u9"), None)

    for _ in range(50):  # the restore until u9's create is on its way
        if u9_queued() is not None:
            break
        p.deliver_up(len(p.up))
        p.deliver_down(len(p.down))
    u9 = u9_queued()
    assert u9 is not None
    del p.up[list(p.up).index(u9)]
    p.settle()  # everything else lands, the output included ...
    p.server_error(SERVER_ERROR, OOPS, u9.event_id)  # ... then u9's refusal arrives
    p.settle()
    ids = p.server_ids()
    assert ids[-1] == "u9" and ids[-2].startswith("out_"), ids
    assert p.client.mirror_items() == p.store.items()
    assert p.violations() == []


def test_a_calls_delete_waits_for_its_outputs_delete_to_be_answered() -> None:
    """A pair removed in one push: the output's delete refused by server_error and sent
    again after the call's delete had landed left the output without its call."""
    p = seeded(user("u0"))
    tool_turn(p)
    p.settle()
    call_item = next(i for i in p.store.items() if i.id == "fc1")
    output = p.store.items()[p.store.items().index(call_item) + 1]
    without(p, "fc1", output.id)
    refuse_next(p, ev.DeleteItem)  # the output's delete goes first, and is refused
    while p.up or p.down:
        p.deliver_up(1)
        assert not ("fc1" not in p.server_ids() and output.id in p.server_ids()), p.server_ids()
        p.deliver_down(1)
    assert "fc1" not in p.server_ids() and output.id not in p.server_ids()
    assert p.violations() == []
