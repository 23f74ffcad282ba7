"""The shared pieces of the scripted race tests for R12..R22 (no tests here):
item builders, a seeded pair, and what the checker and the log report about it.
"""

from __future__ import annotations

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.verify.checker import Invariant
from accord.verify.harness import Pair

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
