"""Items, ids and ChatContext: construction rules, ordering, and the base travelling along."""

from __future__ import annotations

import pytest

from accord.ids import IdAliases, IdGenerator, is_wire_safe
from accord.items import (
    ChatContext,
    ContextBase,
    FunctionCall,
    FunctionCallOutput,
    Message,
    same_content,
)


def ctx_of(*ids: str, base: ContextBase | None = None) -> ChatContext:
    return ChatContext([Message(id=i, role="user", content=i) for i in ids], base=base)


def test_message_kinds() -> None:
    assert Message(id="m", role="user", content="hi").text == "hi"
    spoken = Message(id="u5", role="user", content=None, audio=True)
    assert spoken.text == ""
    with pytest.raises(ValueError, match="only for audio"):
        Message(id="m", role="user", content=None)
    with pytest.raises(ValueError, match="role"):
        Message(id="m", role="robot", content="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="system"):
        Message(id="m", role="system", content="x", audio=True)
    with pytest.raises(ValueError, match="non-empty"):
        FunctionCall(id="", call_id="c", name="f")
    with pytest.raises(ValueError, match="call_id"):
        FunctionCallOutput(id="o", call_id="", output="x")


def test_same_content_covers_every_item_type() -> None:
    a = FunctionCallOutput(id="o1", call_id="c1", output="ssn 123")
    assert same_content(a, FunctionCallOutput(id="o2", call_id="c1", output="ssn 123"))
    assert not same_content(a, FunctionCallOutput(id="o1", call_id="c1", output="[redacted]"))
    call = FunctionCall(id="f", call_id="c", name="n", arguments="{}")
    assert not same_content(call, FunctionCall(id="f", call_id="c", name="n", arguments='{"a":1}'))
    assert not same_content(call, Message(id="f", role="user", content="{}"))


def test_context_order_lookup_and_edits() -> None:
    ctx = ctx_of("a", "b", "c")
    assert ctx.ids() == ["a", "b", "c"] and len(ctx) == 3
    assert "b" in ctx and "z" not in ctx
    assert ctx.index("c") == 2 and ctx.previous_id("a") is None and ctx.previous_id("c") == "b"
    ctx.insert_after("a", Message(id="x", role="assistant", content="x"))
    ctx.insert_after(None, Message(id="r", role="system", content="r"))
    assert ctx.ids() == ["r", "a", "x", "b", "c"]
    assert ctx.index("b") == 3
    assert ctx.remove("x").id == "x"
    ctx.replace(Message(id="b", role="user", content="B"))
    assert ctx.get("b") == Message(id="b", role="user", content="B")
    assert ctx.ids() == ["r", "a", "b", "c"]
    with pytest.raises(ValueError, match="duplicate"):
        ctx.append(Message(id="a", role="user", content="again"))
    with pytest.raises(KeyError):
        ctx.remove("nope")
    with pytest.raises(TypeError):
        ctx.append("not an item")  # type: ignore[arg-type]


def test_base_survives_copy_slice_filter() -> None:
    base = ContextBase(version=7, items=())
    ctx = ctx_of("a", "b", "c", "d", base=base)
    assert ctx.copy().base is base
    assert ctx[1:3].base is base and ctx[1:3].ids() == ["b", "c"]
    assert ctx.filter(lambda it: it.id != "b").base is base
    assert ctx.base_version == 7
    assert ChatContext(ctx.items).base is None  # built from scratch: no base
    copy = ctx.copy()
    copy.remove("a")
    assert ctx.ids() == ["a", "b", "c", "d"]  # copies are independent


def test_ids_are_wire_safe_unique_and_seeded() -> None:
    gen = IdGenerator(seed=1)
    ids = [gen.new() for _ in range(2000)] + [gen.new("call") for _ in range(10)]
    assert len(set(ids)) == len(ids)
    assert all(is_wire_safe(i) for i in ids)
    again = IdGenerator(seed=1)
    assert [again.new() for _ in range(5)] == ids[:5]
    assert not is_wire_safe("x" * 33) and not is_wire_safe("a.b") and not is_wire_safe("")
    with pytest.raises(ValueError):
        gen.new("bad.prefix")


def test_alias_map_is_stable_both_ways() -> None:
    aliases = IdAliases(IdGenerator(seed=3))
    foreign = "lk_item.0b5a1c7e-2f9d-4a8b-9c3e-5d6f7a8b9c0d"
    wire = aliases.to_wire(foreign)
    assert is_wire_safe(wire) and aliases.to_wire(foreign) == wire
    assert aliases.to_local(wire) == foreign
    assert aliases.to_wire("fine_id") == "fine_id" and len(aliases) == 1
    assert aliases.to_local("never_aliased") == "never_aliased"
