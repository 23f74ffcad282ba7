"""Whether the session is at a point a planned switch to a new server session may happen.

A rollover before the cap (docs/rollover.md) may only swap connections between turns:
never in the middle of a response, while a tool call runs, or with an operation the old
server has not answered (its answer would be lost with the old socket, and the restore
would have to guess). Pure over the core's state: the shell asks, the core has no clock.
"""

from __future__ import annotations

from accord.client.core import SessionCore


def switch_point(core: SessionCore) -> bool:
    """Connected, no open operation, no response (in-band or out-of-band), no item in
    flight, no running tool, no transcript awaited, no session.update unanswered."""
    return core.connected and core.engine.is_quiet(out_of_band=True)
