"""When the server will end the session: the cap the next rollover has to beat.

The real server caps a session (60 minutes) and says when it ends in ``session.created``
as ``session.expires_at``, a Unix timestamp in seconds; ``connect(max_session_s=...)``
overrides it for servers that do not say (or a tighter policy of one's own). Pure
functions over what was received and the wall time it was received at: the caller owns
the clock (the core has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MARGIN_S = 30.0  # before a real 60-minute cap: room to open, restore and switch
MARGIN_SHARE = 0.25  # a short (test) cap gets at most this share of itself as margin


def server_expiry(session_info: Mapping[str, Any]) -> float | None:
    """``session.expires_at`` as a float Unix time, or None when absent or not a time
    (0 and negative values are what some compatible servers send for "no cap")."""
    value = session_info.get("expires_at")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def expires_at(
    session_info: Mapping[str, Any], max_session_s: float | None, created_wall: float | None
) -> float | None:
    """The session's end: ``max_session_s`` after ``session.created`` arrived when set
    (it overrides the server's word), else the server's ``expires_at``."""
    if max_session_s is not None and created_wall is not None:
        return created_wall + max_session_s
    return server_expiry(session_info)


def rollover_margin(margin_s: float | None, cap_s: float) -> float:
    """How long before the cap to start rolling over: ``margin_s`` when given, else 30 s,
    scaled down to a quarter of a short cap (a 10 s cap rolls over 2.5 s before it)."""
    if margin_s is not None:
        return margin_s
    return min(DEFAULT_MARGIN_S, cap_s * MARGIN_SHARE)
