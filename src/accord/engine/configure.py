"""``session.update`` as an operation of the ledger, like a create or a delete.

The application's updates (``update_session``) and the configuration a new connection
is given are ``session`` ops with their fields; the engine's own toggles of server VAD
around a restore are ``session`` ops without. One rule answers them all: the server
answers ``session.update`` frames in order and its ``session.updated`` names none of
them, so an acknowledgement resolves the oldest one in transit; a refusal names its
frame by event id and resolves that one (a transient one is sent again, as any op).

Across a drop an update is not lost and not sent twice: it waits (``RESTORING``), and
the configuration the next connection is given holds its fields (the shell keeps the
merged configuration), so that configuration's answer is its answer too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.engine.ledger import IN_TRANSIT, Op, OpState
from accord.engine.state import EngineState


def plan_update(
    eng: EngineState, fields: Mapping[str, Any], now: float, *, configuration: bool
) -> Op:
    """A ``session`` op for ``fields``; with ``configuration`` it is a new connection's
    configuration and answers every update carried across the drop."""
    carried = (
        tuple(
            op.event_id
            for op in eng.ledger.open_ops()
            if carried_over(op) and op.state is OpState.RESTORING
        )
        if configuration
        else ()
    )
    op = eng.plan("session", now, fields=dict(fields), answers=carried)
    if not configuration and not eng.connected:
        # Sent now it would die with the socket: the next connection's configuration
        # carries its fields, and answers it.
        eng.ledger.move(op, "drop")
    return op


def acknowledged(eng: EngineState, event_id: str | None) -> Op | None:
    """The op a ``session.updated`` answers: the one it names, else the oldest sent."""
    if event_id is not None:
        return eng.ledger.ops.get(event_id)
    sent = [op for op in eng.ledger.open_ops() if op.kind == "session" and op.state in IN_TRANSIT]
    return min(sent, key=lambda op: op.sent_order) if sent else None


def carried_over(op: Op) -> bool:
    """An update that waits through a drop for the next connection's configuration."""
    return op.kind == "session" and op.fields is not None
