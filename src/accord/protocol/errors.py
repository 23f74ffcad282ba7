"""Protocol errors, named after the side that broke the protocol.

Following h11, the class says who is to blame, so a caller knows whom to answer:

- :class:`RemoteProtocolError`: the peer sent something we cannot accept (bad JSON, a
  missing ``type``, a known event whose fields do not validate). Raised only on the
  receive path (``parse_server_event`` / ``parse_client_event``). A session logs it and
  carries on; the simulator answers it with an ``error`` event.
- :class:`LocalProtocolError`: our own code built an event the protocol does not allow
  (an invalid field passed to an event's constructor, an event that cannot be spelled in
  the requested dialect). That is a bug on our side, never the peer's.
- :class:`UnsupportedItemError`: a well-formed wire item that accord's item model cannot
  represent (an image, an MCP call). Neither side broke the protocol.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error raised by :mod:`accord.protocol`."""


class RemoteProtocolError(ProtocolError):
    """The peer sent an event we cannot accept."""


class MalformedEventError(RemoteProtocolError):
    """A received event is not a valid event.

    ``event_type`` is the event's ``type`` when it had a usable one, ``field`` the dotted
    path of the offending field when one is to blame (``"type"`` for a missing or
    non-string type), and ``reason`` what was wrong with it.
    """

    def __init__(self, reason: str, *, event_type: str | None = None, field: str | None = None):
        self.reason = reason
        self.event_type = event_type
        self.field = field
        where = f"event {event_type!r}" if event_type is not None else "event"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"malformed {where}: {reason}")


class InvalidJSONError(MalformedEventError):
    """A received frame is not a JSON object (not UTF-8, not JSON, or not an object).

    Kept apart from other malformed events because the server answers it with its own
    error code (``invalid_json``) instead of naming a field.
    """


class FrameTooDeepError(InvalidJSONError):
    """A received frame nests deeper than the decoder can follow.

    Python's decoders recurse once per level, so a frame nested about 1,000 levels deep
    raises :class:`RecursionError`, which is no protocol error and would escape every
    handler (a client's session froze; the simulator stopped answering). It is a frame
    nobody can use: the receiver ignores it, and a server answers ``invalid_event``.
    """


class LocalProtocolError(ProtocolError):
    """Our side built an event the protocol does not allow: a bug in accord's caller."""


class InvalidEventError(LocalProtocolError, ValueError):
    """An event or wire item was constructed with invalid fields.

    Also a ``ValueError``, since it is raised from a constructor given bad values.
    """


class UnsupportedItemError(ProtocolError, ValueError):
    """A wire item that accord's :mod:`accord.items` cannot represent."""
