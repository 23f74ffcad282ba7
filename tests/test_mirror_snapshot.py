"""The mirror's snapshot, kept up to date by appends and in-place updates without a walk,
is always the list a walk would give (engine/mirror.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.engine.mirror import Mirror
from accord.items import Message

IDS = [f"i{n}" for n in range(8)]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add_end", "update", "delete", "clear", "let_go", "read"]),
        st.sampled_from(IDS),
        st.sampled_from([None, *IDS]),
        st.text(max_size=3),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(STEPS)
def test_the_snapshot_is_what_a_walk_of_the_list_gives(
    steps: list[tuple[str, str, str | None, str]],
) -> None:
    mirror = Mirror()
    for action, item_id, anchor, text in steps:
        item = Message(id=item_id, role="user", content=text)
        if action == "add":
            mirror.add(item, anchor)
        elif action == "add_end":
            mirror.add(item, mirror.last_id())
        elif action == "update":
            mirror.update(item)
        elif action == "delete":
            mirror.delete(item_id)
        elif action == "clear":
            mirror.clear()
        elif action == "let_go":
            mirror.let_go()
        else:
            mirror.snapshot()  # a read in between: the next change must keep it right
        walked = tuple(mirror.get(i) for i in mirror.ids())
        assert mirror.snapshot() == walked
        assert all(a is b for a, b in zip(mirror.snapshot(), walked, strict=True))


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.sampled_from(["append", "edit", "drop"]), st.integers(0, 9)), max_size=30)
)
def test_the_token_estimate_kept_across_turns_is_the_estimate_of_the_whole(
    steps: list[tuple[str, int]],
) -> None:
    """Doubts keeps each item's estimate and their total while the conversation only
    grows at its end; whatever the edits, the total is that of the items given."""
    from accord.engine.eviction import Doubts
    from accord.tokens import item_tokens

    doubts = Doubts()
    items: list[Message] = []
    counter = 0
    for action, n in steps:
        if action == "append":
            counter += 1
            items.append(Message(id=f"m{counter}", role="user", content="word " * n))
        elif action == "edit" and items:
            at = n % len(items)
            items[at] = Message(id=items[at].id, role="user", content="edited " * n)
        elif action == "drop" and items:
            del items[n % len(items)]
        pairs = doubts.sized(list(items))
        assert pairs == [(i.id, item_tokens(i).total) for i in items]
        assert doubts._total == sum(item_tokens(i).total for i in items)
