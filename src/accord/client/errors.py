"""Typed errors of a Realtime session, each saying who is to blame.

``RealtimeError`` is the server's word (its code, message and the event it answers);
``ConnectionLost`` and ``OperationTimeout`` are the transport's; a waiter always ends
with a result or one of these, never hangs.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base of every error accord raises to the application."""


class RealtimeError(AccordError):
    """The server refused something: ``code`` and ``message`` as it sent them."""

    def __init__(
        self, code: str | None, message: str, event_id: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(f"{code or 'error'}: {message}")
        self.code = code
        self.message = message
        self.event_id = event_id
        self.param = param


class ConnectionLost(AccordError):  # noqa: N818 - the name the issue and users expect
    """The connection dropped and could not be restored (or reconnects are off)."""

    def __init__(self, reason: str, *, code: int | None = None, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # No reconnect will follow: a bad key (3000) or model (4000), reconnects off, or
        # the reconnect attempts used up.
        self.final = final


class OperationTimeout(AccordError):  # noqa: N818 - the name the issue and users expect
    """An operation got no answer in time on a live socket; its outcome is unknown."""


class SessionClosed(AccordError):  # noqa: N818 - reads like its siblings
    """The session was closed by the application."""
