"""Settling the shell's waiters from the engine's effects (an operation resolved).

Kept out of :mod:`accord.session` so that the shell's module holds the shell only: each
branch says which waiter an ``OpResolved`` answers and with what.
"""

from __future__ import annotations

import asyncio
from typing import Any

from accord.client.generation import Generation, Generations
from accord.engine import events as ev
from accord.errors import ConnectionLost, OperationTimeout, RealtimeError


def settle(
    effect: ev.Effect,
    update_waiters: dict[str, asyncio.Future[None]],
    reply_waiters: dict[str, asyncio.Future[Generation]],
    generations: Generations,
) -> None:
    """Resolve the ``update_session`` or ``generate_reply`` waiter ``effect`` answers."""
    if not isinstance(effect, ev.OpResolved):
        return
    if effect.event_id in update_waiters:
        waiter = update_waiters.pop(effect.event_id)
        if waiter.done():
            pass
        elif effect.status == "success":
            waiter.set_result(None)
        elif effect.status == "unknown":  # the engine's op_timeout passed without an answer
            waiter.set_exception(OperationTimeout("update_session: no answer from the server"))
        else:
            waiter.set_exception(
                RealtimeError(effect.code, effect.message or "refused", effect.event_id)
            )
    elif effect.answered_by is not None:
        # The request was dropped because this response answers it: that is its reply.
        reply = reply_waiters.pop(effect.event_id, None)
        generation = generations.get(effect.answered_by)
        if reply is not None and not reply.done() and generation is not None:
            reply.set_result(generation)
    elif effect.status == "error":
        reply = reply_waiters.pop(effect.event_id, None)
        if reply is not None and not reply.done():
            reply.set_exception(
                RealtimeError(effect.code, effect.message or "refused", effect.event_id)
            )
    elif effect.status == "failure":
        # Fix: a response.create pending at a drop resolves as a failure (it is not
        # carried by the restore) and no response.created will ever come for it; its
        # generate_reply waiter hung until wait_timeout. It ends with ConnectionLost.
        reply = reply_waiters.pop(effect.event_id, None)
        if reply is not None and not reply.done():
            reply.set_exception(
                ConnectionLost(effect.message or "the connection was lost", final=False)
            )


def fail_all(exc: BaseException, *waiters: dict[str, asyncio.Future[Any]]) -> None:
    """End every waiter still pending with ``exc`` (the session closed or gave up)."""
    for group in waiters:
        for waiter in group.values():
            if not waiter.done():
                waiter.set_exception(exc)
        group.clear()
