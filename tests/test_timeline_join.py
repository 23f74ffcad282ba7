"""The timeline's wire join under hypothesis: whatever order the server answers in, each
operation is joined to the one event that answers it, and only to it."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.timeline.wire import WireJoin


def _create(n: int) -> str:
    item = {"id": f"u{n}", "type": "message", "role": "user", "content": []}
    return json.dumps({"type": "conversation.item.create", "event_id": f"evt_{n}", "item": item})


def _delete(n: int) -> str:
    return json.dumps(
        {"type": "conversation.item.delete", "event_id": f"del_{n}", "item_id": f"u{n}"}
    )


def _answer(n: int, op: str, refused: bool) -> str:
    if refused:
        error = {"type": "invalid_request_error", "code": "x", "message": "no", "event_id": op}
        return json.dumps({"type": "error", "event_id": f"e{op}", "error": error})
    if op.startswith("del_"):
        return json.dumps(
            {"type": "conversation.item.deleted", "event_id": f"e{op}", "item_id": f"u{n}"}
        )
    item = {"id": f"u{n}", "type": "message", "role": "user", "content": []}
    return json.dumps(
        {
            "type": "conversation.item.added",
            "event_id": f"e{op}",
            "previous_item_id": None,
            "item": item,
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_every_op_gets_the_answer_that_names_it(
    ops: list[tuple[bool, bool]], rng: random.Random
) -> None:
    """Each entry: (a delete rather than a create, refused). Answers come back shuffled."""
    join = WireJoin()
    answers: list[tuple[int, str, bool]] = []
    for n, (delete, refused) in enumerate(ops):
        join.client_frame(_delete(n) if delete else _create(n), 0.0)
        answers.append((n, f"del_{n}" if delete else f"evt_{n}", refused))
    rng.shuffle(answers)
    for t, (n, op, refused) in enumerate(answers, start=1):
        join.server_frame(_answer(n, op, refused), float(t))
    join.close_runs()
    rows = join.rows
    by_op = {r.ref: r for r in rows if r.kind == "op"}
    assert len(by_op) == len(ops)
    for _n, op, refused in answers:
        row = by_op[op]
        assert row.status == ("failed" if refused else "acked")
        assert row.link is not None and rows[row.link].ref == op
    assert sorted(r.ref for r in rows if r.kind == "event" and r.ref) == sorted(by_op)
