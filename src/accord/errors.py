"""Every error accord raises, under one root, each class saying who is to blame.

Following h11, the class names the side at fault, so a caller knows whom to answer:

- :class:`RemoteProtocolError`: the peer sent something we cannot accept (bad JSON, a
  missing ``type``, a known event whose fields do not validate). Raised only on the
  receive path; a session reports it and carries on, the simulator answers it with an
  ``error`` event. Its subclasses are in :mod:`accord.protocol.errors`.
- :class:`LocalProtocolError`: our own side broke the protocol or its own tables: an
  event built with a field the protocol does not allow, one that cannot be spelled in
  the requested dialect, an operation moved through a transition the engine's table
  does not have (:mod:`accord.engine.ledger`). A bug on our side, never the peer's.
- :class:`RealtimeError`: the server refused an operation (its code and message);
  :class:`ConnectionLost`, :class:`OperationTimeout` and :class:`SessionClosed`: why a
  session's waiter ended without a result. A waiter always ends with a result or one of
  these, never hangs.
- :class:`JournalError`: a session journal (:mod:`accord.journal`) cannot be used: a
  URL that names no store (:class:`JournalUrlError`), a store that cannot be reached
  or written (:class:`JournalUnavailable`), records that cannot be read back
  (:class:`JournalCorrupt`).

``except AccordError`` catches all of them; nothing else escapes accord on purpose.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base of every error accord raises."""


class ProtocolError(AccordError):
    """The Realtime protocol was broken, by one side or the other (see the subclasses)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent an event we cannot accept."""


class LocalProtocolError(ProtocolError):
    """Our side did something the protocol, or accord's own tables, forbid: a bug in
    accord or in its caller."""


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


class JournalError(AccordError):
    """A session journal cannot be used (see the subclasses)."""


class JournalUrlError(JournalError, ValueError):
    """The journal URL names no store accord knows (``sqlite:///...``, ``redis://...``)."""


class JournalUnavailable(JournalError):  # noqa: N818 - reads like its siblings
    """The journal's store cannot be reached, opened or written."""


class JournalCorrupt(JournalError):  # noqa: N818 - reads like its siblings
    """A journal record cannot be read back (written by a newer accord, or damaged)."""
