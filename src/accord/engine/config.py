"""The engine's settings, in a module of their own so that its handlers can name them.

:mod:`accord.engine.engine` re-exports :class:`EngineConfig`; it lives here because
:mod:`accord.engine.state` (what a handler may touch) types the engine's ``config`` with
it, and importing it from the engine would close an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.engine.merge import Rules
from accord.engine.scheduler import Capabilities


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How long an op may go unanswered, how often a transient refusal is retried, and
    the merge rules and server capabilities the engine plans with."""

    op_timeout: float = 15.0  # seconds before a sent op resolves as "unknown"
    # Sends again an op refused by a transient error (server_error) up to this many times
    # before it fails; the real server's message says "You can retry your request". Five:
    # at a 5 % refusal rate an op then fails for good once in 60 million (0.05**6); with
    # two, once in 8,000 (0.05**3), an edit lost every hour of a busy session.
    retries: int = 5
    server_vad: bool = False  # turn detection configured: switched off during a restore
    rules: Rules = field(default_factory=Rules)
    capabilities: Capabilities = field(default_factory=Capabilities)
