"""One LiveKit ``update_chat_ctx``: derive the base, push through accord, write back.

The push itself is accord's: the three-way merge against the derived base
(:mod:`.observed`), the scheduler's ordering, one report. What is LiveKit-specific is the
way back. LiveKit keeps the context it pushed: ``Agent.update_chat_ctx`` makes the
pushed object the agent's context. So once the push has resolved, the adapter rewrites
that object in place to the conversation as it now stands: rewritten items under their
new ids (the aliases flow back), items the merge kept because the writer never saw
them put back where the server has them, and LiveKit's own items (handoffs,
configuration updates, anything LiveKit added while the push was in flight) left where
they were. The agent's context and the server then agree, and the next push from it
has nothing stale to undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from livekit.agents import llm

from accord.engine.events import PushReport
from accord.integrations.livekit.convert import (
    from_livekit,
    is_conversation_item,
    to_livekit,
    view,
    with_content_of,
)
from accord.integrations.livekit.observed import Derived, Observations
from accord.items import ChatContext, Item
from accord.session import RealtimeSession as AccordSession


@dataclass(frozen=True, slots=True)
class PushOutcome:
    report: PushReport
    derived: Derived


async def push(
    session: AccordSession,
    observations: Observations,
    lk_ctx: llm.ChatContext,
    *,
    explicit_replace: bool = False,
) -> PushOutcome:
    """Push a LiveKit context through accord and write the result back into it."""
    conversation = [item for item in lk_ctx.items if is_conversation_item(item)]
    derived = observations.derive(conversation, session.chat_ctx)
    for item in derived.ctx:
        observations.shown(item)
    report = await session.update_chat_ctx(derived.ctx, explicit_replace=explicit_replace)
    observations.aliases.update(report.aliased)
    # What the agent's context holds from now on: LiveKit's own objects (all of a push
    # from the agent's context; in a snapshot push, what LiveKit added to the snapshot,
    # a typed turn or tool outputs, which it records in the agent's context too).
    for item_id in derived.livekit_ids:
        observations.seen(item_id)
    if not lk_ctx.readonly:
        written = write_back(lk_ctx, derived, session.chat_ctx, observations)
        if not derived.from_snapshot:
            for item_id in written:
                observations.seen(item_id)
    return PushOutcome(report, derived)


def write_back(
    lk_ctx: llm.ChatContext,
    derived: Derived,
    current: ChatContext,
    observations: Observations,
) -> list[str]:
    """Rewrite ``lk_ctx`` in place to ``current`` (the conversation after the push),
    keeping LiveKit's objects where they still say the same and its local items where
    they stood. Returns the conversation ids written."""
    pushed = {item.id for item in derived.ctx}
    now = list(lk_ctx.items)
    by_id: dict[str, llm.ChatItem] = {}
    extras: dict[str | None, list[llm.ChatItem]] = {}
    anchor: str | None = None
    on_server = {item.id for item in current}
    for lk in now:
        resolved = observations.resolve(lk.id) if is_conversation_item(lk) else None
        if resolved is not None and resolved in on_server:
            by_id.setdefault(resolved, lk)
            anchor = resolved
        elif resolved is None or lk.id not in pushed:
            # LiveKit's own items, and items it added while the push was in flight
            # (a tool output recorded before its own push): they stay where they were.
            extras.setdefault(anchor, []).append(lk)
        # else: pushed but not on the server (removed, refused): gone from it too
    out: list[llm.ChatItem] = list(extras.get(None, []))
    written: list[str] = []
    for item in current:
        out.append(_livekit_copy(item, by_id.get(item.id), out, observations))
        written.append(item.id)
        out.extend(extras.get(item.id, []))
    lk_ctx.items[:] = out
    return written


def _livekit_copy(
    item: Item,
    held: llm.ChatItem | None,
    before: Sequence[llm.ChatItem],
    observations: Observations,
) -> llm.ChatItem:
    """LiveKit's object for ``item``: its own copy when it still says the same (under
    the current id), its copy with the content replaced, or a new one."""
    observations.shown(item)
    if held is not None and held.type == to_livekit(item).type:
        if view(from_livekit(held, item)) == view(item):
            if held.id == item.id:
                return held
            return held.model_copy(update={"id": item.id})
        return with_content_of(held, item)
    floor = before[-1].created_at if before else 0.0
    return to_livekit(item, created_at=max(floor, observations.first_met.get(item.id, floor)))
