"""The explorer's pair passes through the wire both ways (issue 16).

Its client is a session core: what the pair's server does reaches the engine only as
frames the core decodes (``protocol/`` and ``client/inbound.py``, where the shell's
bugs were), and what the engine sends reaches the store only as the frames the core
encodes (``client/frames.py``), parsed as a server parses them. These break one piece
of that path and show the pair notices, and hold the pair's fast server frames to the
protocol models' JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import accord.client.frames as frames_module
from accord.client import inbound
from accord.engine import events as ev
from accord.explore.explorer import explore
from accord.explore.library import SCENARIOS
from accord.items import FunctionCall, Item, Message
from accord.protocol import (
    ConversationItemDeleted,
    ConversationItemRetrieved,
    ErrorDetail,
    ErrorEvent,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    encode,
)
from accord.protocol.fast import (
    announced_item,
    encode_server_event,
    error_body,
    response_body,
    server_item,
)
from accord.sim.events import empty_item, response_object, wire_item
from test_engine_regressions import seeded


def _user(item_id: str) -> Message:
    return Message(id=item_id, role="user", content=f"user says {item_id}")


def test_a_server_event_the_inbound_handlers_drop_is_a_divergence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shell that loses ``conversation.item.deleted`` (its handler gone): the engine
    never hears of the delete, and the pair judges the mirror against the store."""
    p = seeded(_user("u0"), _user("u1"))
    monkeypatch.delitem(inbound.HANDLERS, ConversationItemDeleted)
    ctx = p.snapshot()
    ctx.remove("u0")
    p.push(ctx)
    p.settle()
    assert p.server_ids() == ["u1"]
    assert [item.id for item in p.client.mirror_items()] == ["u0", "u1"]
    assert p.violations() != []


def test_a_create_encoded_without_its_anchor_lands_out_of_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pair's store gets the frame the core's encoder makes: an encoder that drops
    ``previous_item_id`` appends an insert where the push put it in the middle."""
    p = seeded(_user("u0"), _user("u1"))
    real = frames_module.encode_item_create

    def anchorless(event_id: str, item: Item, previous_item_id: str | None) -> str:
        return real(event_id, item, None)

    monkeypatch.setattr(frames_module, "encode_item_create", anchorless)
    ctx = p.snapshot()
    ctx.insert_after("u0", _user("mid"))
    p.push(ctx)
    p.settle()
    assert [item.id for item in ctx.items] == ["u0", "mid", "u1"]
    assert p.server_ids() == ["u0", "u1", "mid"]


def test_an_exhaustive_race_runs_through_the_inbound_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R1 (a push while a call is in flight) with a shell that drops every item's done
    event (``inbound.done``, which both the handlers and the core's fast path call): the
    engine never learns the call is complete, and schedules fail."""
    clean = explore(SCENARIOS["r1"], "accord", depth=7)
    assert clean.violating == 0
    monkeypatch.setattr(inbound, "done", lambda _core, _item: None)
    broken = explore(SCENARIOS["r1"], "accord", depth=7)
    assert broken.violating > 0


def _same_json(fast: str, model: Any) -> None:
    assert json.loads(fast) == json.loads(encode(model))


_ITEMS: list[Item] = [
    Message(id="a1", role="assistant", content="hello"),
    Message(id="a2", role="assistant", content="spoken", audio=True),
    Message(id="u1", role="user", content=None, audio=True),
    FunctionCall(id="f1", call_id="c1", name="lookup", arguments='{"q": 1}'),
]


@pytest.mark.parametrize("item", _ITEMS, ids=lambda i: i.id)
def test_the_fast_item_frames_are_the_models_json(item: Item) -> None:
    wire = wire_item(item, "completed")
    _same_json(
        encode_server_event(ConversationItemRetrieved, "e1", item=server_item(item)),
        ConversationItemRetrieved(event_id="e1", item=wire),
    )
    _same_json(
        encode_server_event(
            ResponseOutputItemDone, "e2", response_id="r1", output_index=0, item=server_item(item)
        ),
        ResponseOutputItemDone(event_id="e2", response_id="r1", output_index=0, item=wire),
    )
    if isinstance(item, Message | FunctionCall):
        _same_json(
            encode_server_event(
                ResponseOutputItemAdded,
                "e3",
                response_id="r1",
                output_index=0,
                item=announced_item(item),
            ),
            ResponseOutputItemAdded(
                event_id="e3", response_id="r1", output_index=0, item=empty_item(item)
            ),
        )


@pytest.mark.parametrize("status", ["in_progress", "completed", "cancelled"])
def test_the_fast_response_frames_are_the_models_json(status: Any) -> None:
    fast = response_body("r1", status, metadata={"tag": "x"}, usage={"input_tokens": 3})
    model = response_object("r1", status, metadata={"tag": "x"}, usage={"input_tokens": 3})
    _same_json(
        encode_server_event(ResponseCreated, "e1", response=fast),
        ResponseCreated(event_id="e1", response=model),
    )
    _same_json(
        encode_server_event(ResponseDone, "e2", response=fast),
        ResponseDone(event_id="e2", response=model),
    )


def test_the_fast_error_frame_is_the_models_json() -> None:
    detail = error_body("x", "m", "c1")
    _same_json(
        encode_server_event(ErrorEvent, "e1", error=detail),
        ErrorEvent(event_id="e1", error=ErrorDetail(**detail)),
    )


def test_every_engine_input_the_pair_emits_has_frames() -> None:
    """No input of the pair's server side is left without a wire form (a new one must
    get one here, or the explorer would feed it to the engine unseen)."""
    from accord.verify.wire import ServerWire

    wire = ServerWire(lambda _id: None)
    msg = Message(id="a1", role="assistant", content="x")
    for event in (
        ev.ResponseCreated("r1"),
        ev.OutputItemAdded("r1", "a1"),
        ev.ItemAdded(msg, None),
        ev.ItemUpdated(msg, done=True),
        ev.ItemDeleted("a1"),
        ev.ItemTruncated("a1", 10),
        ev.ItemRetrieved(msg),
        ev.TranscriptDone("u1", "hi"),
        ev.TranscriptDone("u1", None),
        ev.ResponseDone("r1"),
        ev.ServerError("x", "m", "c1"),
        ev.SessionUpdated(),
    ):
        assert wire.frames(event), event
