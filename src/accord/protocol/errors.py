"""Protocol errors, named after the side that broke the protocol.

The roots are accord's own (:mod:`accord.errors`, one hierarchy for the whole package);
this module adds what the codec tells apart:

- :class:`RemoteProtocolError` subclasses, raised only on the receive path
  (``parse_server_event`` / ``parse_client_event``): a malformed event, a frame that is
  not JSON, one nested too deeply. A session reports them and carries on; the simulator
  answers them with an ``error`` event.
- :class:`LocalProtocolError` subclasses: our own code built an event the protocol does
  not allow (an invalid field passed to an event's constructor).
- :class:`UnsupportedItemError`: a well-formed wire item that accord's item model cannot
  represent (an image, an MCP call). Neither side broke the protocol.
"""

from __future__ import annotations

from accord.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = [
    "FrameTooDeepError",
    "InvalidEventError",
    "InvalidJSONError",
    "LocalProtocolError",
    "MalformedEventError",
    "ProtocolError",
    "RemoteProtocolError",
    "UnsupportedItemError",
]


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


class InvalidEventError(LocalProtocolError, ValueError):
    """An event or wire item was constructed with invalid fields.

    Also a ``ValueError``, since it is raised from a constructor given bad values.
    """


class UnsupportedItemError(ProtocolError, ValueError):
    """A wire item that accord's :mod:`accord.items` cannot represent."""
