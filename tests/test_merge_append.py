"""An append is merged on its tail: the same plan as the merge over every item.

``merge`` takes a shortcut when the pushed context begins with the projected items
themselves and only adds after them (engine/merge.py, ``_appended_tail``). These tests
hold it to ``merge_in_full`` on generated conversations, tails, aliases, bases and rule
sets, and check that a push of one message converts only that message.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.bench.push_bench import _landed_core
from accord.engine import merge as merge_module
from accord.engine.merge import MergeInput, Rules, merge, merge_in_full
from accord.engine.wire_ids import WireIds
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message

RULE_NAMES = [name for name in Rules.__dataclass_fields__]


def _item(kind: str, item_id: str, call: str) -> Item:
    if kind == "call":
        return FunctionCall(id=item_id, call_id=call, name="f", arguments="{}")
    if kind == "output":
        return FunctionCallOutput(id=item_id, call_id=call, output="ok")
    return Message(id=item_id, role="user", content=item_id)


@st.composite
def _appends(draw: st.DrawFn) -> tuple[MergeInput, MergeInput]:
    """The same append twice, with a fresh ``new_id`` counter for each merge."""
    calls = ["c1", "c2", "c3"]
    kinds = st.sampled_from(["message", "call", "output"])
    n = draw(st.integers(0, 8))
    projected = [_item(draw(kinds), f"p{i}", draw(st.sampled_from(calls))) for i in range(n)]
    # Tail ids: new ones, ids known as deleted, retractable ones, and (sometimes)
    # a projected id named again or an alias that renames one.
    pool = ["t1", "t2", "t3", "gone1", "back1", "p0", "p1", "old1"]
    tail = [
        _item(draw(kinds), draw(st.sampled_from(pool)), draw(st.sampled_from(calls)))
        for _ in range(draw(st.integers(0, 4)))
    ]
    aliases = draw(
        st.dictionaries(st.sampled_from(["old1", "p1", "x"]), st.sampled_from(["t2", "p2"]))
    )
    projected_ids = None if draw(st.booleans()) else {item.id for item in projected}
    with_base = draw(st.booleans())
    rules = Rules(**{name: draw(st.booleans()) for name in RULE_NAMES})
    explicit = draw(st.booleans())
    in_flight_ids = set(draw(st.lists(st.sampled_from(["p0", "p1", "t1"]), max_size=2)))

    def build() -> MergeInput:
        counter = itertools.count()
        new_id: Callable[[Item], str] = lambda _item: f"new{next(counter)}"  # noqa: E731
        return MergeInput(
            base=list(projected) if with_base else None,
            desired=[*projected, *tail],
            projected=tuple(projected),
            projected_ids=projected_ids,
            aliases=aliases,
            known_deleted=lambda i: i.startswith(("gone", "back")),
            in_flight=lambda i: i in in_flight_ids,
            new_id=new_id,
            retractable=lambda i: i.startswith("back"),
            explicit_replace=explicit,
            rules=rules,
        )

    return build(), build()


@settings(max_examples=400, deadline=None)
@given(_appends())
def test_an_append_merged_on_its_tail_plans_what_the_full_merge_plans(
    inputs: tuple[MergeInput, MergeInput],
) -> None:
    shortcut, full = inputs
    assert merge(shortcut) == merge_in_full(full)


def _plain(desired: list[Item], projected: tuple[Item, ...]) -> MergeInput:
    return MergeInput(
        base=None,
        desired=desired,
        projected=projected,
        aliases={},
        known_deleted=lambda _i: False,
        in_flight=lambda _i: False,
        new_id=lambda _i: "z",
    )


def test_an_append_takes_the_tail_path() -> None:
    projected = tuple(Message(id=f"m{i}", role="user", content="x") for i in range(50))
    new = Message(id="new", role="user", content="y")
    reduced = merge_module._appended_tail(_plain([*projected, new], projected))
    assert reduced is not None
    assert list(reduced.projected) == [projected[-1]]
    assert list(reduced.desired) == [projected[-1], new]
    # An edit in the middle is not an append: the full merge runs.
    edited = [*projected[:10], Message(id="m10", role="user", content="edited"), *projected[11:]]
    assert merge_module._appended_tail(_plain([*edited, new], projected)) is None


def test_a_push_of_one_message_converts_that_message_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    core = _landed_core(1_000)
    engine = core.engine
    converted: list[str] = []
    original = WireIds.to_wire

    def counting(self: WireIds, item: Item) -> Item:
        converted.append(item.id)
        return original(self, item)

    monkeypatch.setattr(WireIds, "to_wire", counting)
    current = engine.context()
    pushed = current.copy()
    pushed.append(Message(id="appended", role="user", content="one more"))
    _, effects = engine.push(pushed, 0.0)
    assert converted == ["appended"]
    assert any(type(e).__name__ == "Send" for e in effects)
    assert engine.context().ids()[-1] == "appended" or "appended" in [
        op.item_id for op in engine.ledger.open_ops()
    ]
    # A context built from scratch (no base) with the same items takes the path too.
    converted.clear()
    again = ChatContext([*engine.context(), Message(id="second", role="user", content="2")])
    engine.push(again, 0.0)
    assert converted == ["second"]
