"""Engine rules the race catalogue does not spell out as one race, and provider capabilities.

Anchors: a run of new items after one anchor goes in one round trip, in reverse, each on
the same acknowledged predecessor, so a refused create leaves a hole, never a dangling
anchor (docs/architecture.md, "Anchors"). Capabilities: with fewer of them the engine falls
back to reconnect-and-restore or appending, and says so (docs/protocol-notes.md, "Other
providers").
"""

from __future__ import annotations

from accord.engine import events as ev
from accord.engine.scheduler import Capabilities
from accord.items import Item, Message
from accord.verify.checker import Invariant
from accord.verify.harness import Pair


def user(item_id: str) -> Message:
    return Message(id=item_id, role="user", content=f"user says {item_id}")


def seeded(*items: Item, capabilities: Capabilities | None = None) -> Pair:
    p = Pair("accord", capabilities=capabilities)
    ctx = p.snapshot()
    for item in items:
        ctx.append(item)
    p.push(ctx)
    p.settle()
    return p


def wire(p: Pair) -> list[tuple[str, str, str | None]]:
    return [
        (type(op).__name__, op.item.id, op.previous_item_id)
        for op in p.up
        if isinstance(op, ev.CreateItem)
    ]


def test_a_run_goes_in_one_round_trip_and_a_refusal_leaves_a_hole() -> None:
    p = seeded(user("u0"), user("u1"))
    ctx = p.snapshot()
    for item_id in ("n1", "n2", "n3"):
        ctx.append(user(item_id))
    p.push(ctx)
    # One round trip: all three creates are on the wire at once, newest first, each on
    # the same acknowledged predecessor.
    assert wire(p) == [
        ("CreateItem", "n3", "u1"),
        ("CreateItem", "n2", "u1"),
        ("CreateItem", "n1", "u1"),
    ]
    p.deliver_up(1)  # n3 lands
    refused = p.up.popleft()  # the server refuses n2
    assert isinstance(refused, ev.CreateItem)
    p.server_error("invalid_value", "refused for the test", refused.event_id)
    p.settle()
    assert p.server_ids() == ["u0", "u1", "n1", "n3"]  # a hole where n2 was
    dangling = [v for v in p.violations() if v.invariant is Invariant.NO_DANGLING_ANCHOR]
    assert dangling == []
    assert p.reports[-1].failed == (("n2", "invalid_value"),)


def test_provider_that_cannot_delete_waits_for_a_restore() -> None:
    p = seeded(user("u0"), user("u1"), capabilities=Capabilities(can_delete=False))
    ctx = p.snapshot()
    ctx.remove("u0")
    p.push(ctx)
    assert not p.up  # nothing can be sent
    assert p.snapshot().ids() == ["u1"]  # the writer sees its edit
    report = p.reports[-1]
    assert report.deferred == ("u0",)
    assert any("cannot delete" in note for note in report.notes)
    p.drop()
    p.reconnect()  # the restore applies the removal
    assert p.server_ids() == ["u1"]
    assert p.violations() == []


def test_append_only_provider_appends_and_says_so() -> None:
    p = seeded(user("u0"), user("u1"), capabilities=Capabilities(can_insert_anchored=False))
    ctx = p.snapshot()
    ctx.insert_after("u0", user("mid"))
    p.push(ctx)
    assert wire(p) == [("CreateItem", "mid", None)]  # no anchor: appended
    p.settle()
    assert p.server_ids() == ["u0", "u1", "mid"]
    assert any("append-only" in note for note in p.reports[-1].notes)
    assert p.client.mirror_items() == p.store.items()


def test_provider_that_cannot_truncate_keeps_the_turn_and_says_so() -> None:
    p = seeded(user("u0"), capabilities=Capabilities(can_truncate=False))
    rid = p.server_start()
    spoken = Message(id="a1", role="assistant", content="a long answer", audio=True, audio_ms=3000)
    p.server_add(rid, spoken, done=False)
    p.settle()
    p.interrupt("a1", played_ms=800)
    assert [type(op).__name__ for op in p.up] == ["CancelResponse"]
    assert any("cannot truncate" in n for n in p.notices)
    p.settle()
    assert p.server_ids() == ["u0", "a1"]
    assert p.violations() == []
