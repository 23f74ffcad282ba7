"""The errors of a Realtime session, where the session's callers have always found them.

They are defined once, with the protocol's, under one root in :mod:`accord.errors`;
this module names the ones a session raises so that ``accord.client.errors`` imports
keep working.
"""

from __future__ import annotations

from accord.errors import (
    AccordError,
    ConnectionLost,
    OperationTimeout,
    RealtimeError,
    SessionClosed,
)

__all__ = ["AccordError", "ConnectionLost", "OperationTimeout", "RealtimeError", "SessionClosed"]
