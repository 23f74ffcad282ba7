"""Faults a test arms on a live session, and which client operations a fault may refuse."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from accord.protocol import ConversationItemCreate, ConversationItemDelete, ResponseCreate
from accord.sim.config import RefusableKind, ServerErrorFaults


@dataclass
class Faults:
    """Faults a test can arm on a live session."""

    close_after_events: int | None = None  # drop the connection after this many events
    anchor_next_output_on_deleted: bool = False  # race R6, once
    pending_errors: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    # operations to answer with server_error, once each, in order (see _refused)
    refuse: list[RefusableKind] = field(default_factory=list)
    # transcriptions to answer with .failed instead of deltas and .completed
    fail_transcriptions: int = 0


def refusable_kind(event: Any) -> RefusableKind | None:
    if isinstance(event, ConversationItemDelete):
        return "delete"
    if isinstance(event, ConversationItemCreate):
        return "create_output" if event.item.type == "function_call_output" else "create"
    if isinstance(event, ResponseCreate):
        params = event.response
        return None if params is not None and params.conversation == "none" else "response"
    return None


def refuses(
    event: Any, faults: Faults, server_errors: ServerErrorFaults, rng: random.Random
) -> bool:
    """Whether to answer this operation with ``server_error`` instead of doing it:
    ``Faults.refuse`` first (once each), then ``SimConfig.server_errors`` at its rate."""
    kind = refusable_kind(event)
    if kind is None:
        return False
    if kind in faults.refuse:
        faults.refuse.remove(kind)
        return True
    if not (server_errors.rate > 0 and kind in server_errors.kinds):
        return False
    return rng.random() < server_errors.rate
