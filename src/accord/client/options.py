"""A session's timeouts, retries and limits: :class:`SessionOptions`, each a named field.

Importable from :mod:`accord.session` and :mod:`accord` as before; kept here so that the
shell's module holds the shell only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from accord.client.core import MAX_CLIENT_FRAME_BYTES
from accord.client.transport import Endpoint, Transport
from accord.engine.config import EngineConfig
from accord.engine.interface import ACCORD, Strategy

TransportFactory = Callable[[Endpoint], Awaitable[Transport]]


@dataclass(frozen=True)
class SessionOptions:
    """Timeouts, retries and limits, each a named parameter (docs/architecture.md, "Style")."""

    op_timeout: float = 15.0  # an operation unanswered this long resolves as unknown
    wait_timeout: float = 30.0  # a waiter gives up with OperationTimeout after this long
    tick_interval: float = 0.25
    reconnect: bool = True
    max_reconnect_attempts: int = 8
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    healthy_after: float = 10.0  # a connection up this long resets the reconnect budget
    engine: EngineConfig | None = None
    seed: int | None = None
    record: str | Path | None = None
    record_audio: bool = False
    strategy: Strategy = ACCORD  # accord.verify.strategies has the naive one, to show the bug
    # A client event larger than this is not sent: its operation fails at once with
    # code frame_too_large (an item the server cannot take would otherwise close the
    # connection and be sent again by every restore).
    max_frame_bytes: int = MAX_CLIENT_FRAME_BYTES
    # The server's session cap in seconds, counted from session.created: overrides the
    # server's session.expires_at in RealtimeSession.expires_at (None: trust the server).
    max_session_s: float | None = None
    # Roll over to a new server session at a quiet point before the cap (docs/rollover.md);
    # rollover_margin_s: how long before it to begin (None: 30 s, a quarter of a short cap).
    rollover: bool = True
    rollover_margin_s: float | None = None
    transport_factory: TransportFactory | None = field(default=None, compare=False)
