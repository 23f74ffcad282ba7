"""compute_diff: the public two-way diff. Applying it to `old` must give `new`."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from accord import ChatContext, FunctionCall, FunctionCallOutput, Message, compute_diff
from accord.diff import apply_diff, longest_increasing_run
from accord.items import Item


def msg(i: str, text: str | None = None) -> Message:
    return Message(id=i, role="user", content=text if text is not None else f"text {i}")


def test_design_example() -> None:
    m = [msg(f"m{i}") for i in range(4)]
    old = ChatContext(m)
    new = ChatContext([m[0], msg("m1", "changed"), m[3], Message(id="n1", role="assistant")])
    d = compute_diff(old, new)
    assert d.to_remove == ["m2"]
    assert d.to_create == [("m3", "n1")]
    assert d.to_update == [("m0", "m1")]


def test_equal_contexts_give_empty_diff() -> None:
    ctx = ChatContext([msg("a"), msg("b")])
    assert compute_diff(ctx, ctx.copy()).empty


def test_move_is_remove_plus_create() -> None:
    old = ChatContext([msg("a"), msg("b"), msg("c")])
    new = ChatContext([msg("c"), msg("a"), msg("b")])
    d = compute_diff(old, new)
    assert d.to_remove == ["c"] and d.to_create == [(None, "c")] and not d.to_update


def test_content_changes_of_calls_and_outputs_are_updates() -> None:
    call = FunctionCall(id="fc", call_id="c1", name="lookup", arguments="{}")
    out = FunctionCallOutput(id="out", call_id="c1", output="ssn 123-45-6789")
    old = ChatContext([msg("u"), call, out])
    redacted = FunctionCallOutput(id="out", call_id="c1", output="[redacted]")
    renamed = FunctionCall(id="fc", call_id="c1", name="lookup", arguments='{"q": 1}')
    d = compute_diff(old, ChatContext([msg("u"), renamed, redacted]))
    assert d.to_update == [("u", "fc"), ("fc", "out")] and not d.to_remove


def test_lis_is_longest_and_increasing() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9]
    run = sorted(longest_increasing_run(values))
    picked = [values[i] for i in run]
    assert all(a < b for a, b in itertools.pairwise(picked))
    assert len(picked) == 6
    assert longest_increasing_run([]) == set()


kinds = st.sampled_from(["m", "fc", "out"])


def make_item(item_id: str, kind: str, version: int) -> Item:
    if kind == "fc":
        return FunctionCall(id=item_id, call_id=f"c_{item_id}", name="f", arguments=str(version))
    if kind == "out":
        return FunctionCallOutput(id=item_id, call_id=f"c_{item_id}", output=str(version))
    return msg(item_id, str(version))


@st.composite
def context_pairs(draw: st.DrawFn) -> tuple[ChatContext, ChatContext]:
    n = draw(st.integers(0, 25))
    ids = [f"i{k}" for k in range(n)]
    kind_of = {i: draw(kinds) for i in ids}
    old = [make_item(i, kind_of[i], 0) for i in ids]
    survivors = [i for i in ids if draw(st.booleans())]
    new_ids = draw(st.permutations(survivors)) if draw(st.booleans()) else survivors
    new_ids = list(new_ids)
    for k in range(draw(st.integers(0, 6))):
        new_ids.insert(draw(st.integers(0, len(new_ids))), f"n{k}")
    new = [
        make_item(i, kind_of.get(i, "m"), 1 if i.startswith("n") or draw(st.booleans()) else 0)
        for i in new_ids
    ]
    return ChatContext(old), ChatContext(new)


@settings(max_examples=300, deadline=None)
@given(context_pairs())
def test_applying_the_diff_gives_new(pair: tuple[ChatContext, ChatContext]) -> None:
    old, new = pair
    d = compute_diff(old, new)
    assert apply_diff(old, new, d) == new
    # Minimality of order: survivors form a longest increasing run, so nothing that
    # could have stayed is moved.
    kept = [i for i in new.ids() if i in old and i not in d.to_remove]
    removed_common = [i for i in d.to_remove if i in new]
    old_positions = [old.index(i) for i in new.ids() if i in old]
    assert len(kept) == len(longest_increasing_run(old_positions))
    assert len(kept) + len(removed_common) == len(old_positions)


def test_large_random_edit_roundtrips() -> None:
    rng = random.Random(7)
    old_items = [msg(f"m{i}") for i in range(3000)]
    new_items: list[Item] = [it for it in old_items if rng.random() < 0.5]
    for k in range(150):
        new_items.insert(rng.randrange(len(new_items) + 1), msg(f"new{k}"))
    old, new = ChatContext(old_items), ChatContext(new_items)
    assert apply_diff(old, new, compute_diff(old, new)) == new
