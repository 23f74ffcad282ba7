"""Errors for malformed client input, worded as the real server words them.

docs/protocol-notes.md ("Seen from the real server"): an unknown client event type
gets ``invalid_value`` on ``type`` listing the supported types; bad JSON gets
``invalid_json``; a missing field gets ``missing_required_parameter`` (wording assumed,
OpenAI's usual). The session stays open after each.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from accord.protocol import (
    FrameTooDeepError,
    MalformedEventError,
    RemoteProtocolError,
)
from accord.protocol.client_events import CLIENT_EVENT_CLASSES
from accord.protocol.codec import type_names
from accord.sim.errors import ServerError


def unknown_type(event_type: str, event_id: str | None) -> ServerError:
    # Observed: code invalid_value, param type, listing the supported types. The error
    # echoes the client's event_id like every other (docs/protocol-notes.md; it was null).
    supported = sorted(
        {name for cls in CLIENT_EVENT_CLASSES for name in type_names(cls) if "." in name}
    )
    return ServerError(
        "invalid_value",
        f"Invalid value: '{event_type}'. Supported values are: "
        + ", ".join(f"'{name}'" for name in supported)
        + ".",
        "type",
        event_id,
    )


def malformed(exc: RemoteProtocolError, frame: str) -> ServerError:
    if isinstance(exc, FrameTooDeepError):
        # The code is the one the real server gives a frame it cannot take as an event
        # (observed for binary frames); its answer to deep nesting is unconfirmed, and so
        # is the wording. No event_id: the frame could not be read far enough to find it.
        return ServerError(
            "invalid_event", "The event is nested too deeply to be parsed.", None, None
        )
    if isinstance(exc, MalformedEventError) and exc.field is not None:
        # Assumed wording: OpenAI's API errors for a missing or a bad parameter (the
        # message was accord's own parser text, and a missing field got invalid_value).
        if _is_missing(exc):
            return ServerError(
                "missing_required_parameter",
                f"Missing required parameter: '{exc.field}'.",
                exc.field,
                event_id_of(frame),
            )
        return ServerError(
            "invalid_value",
            f"Invalid value for '{exc.field}': {exc.reason}",
            exc.field,
            event_id_of(frame),
        )
    # Observed: bad JSON gets code invalid_json.
    return ServerError(
        "invalid_json",
        "We could not parse the JSON body of your request. "
        "(HINT: This likely means you aren't using your HTTP library correctly.)",
        None,
        None,
    )


def _is_missing(exc: MalformedEventError) -> bool:
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return any(err["type"] == "missing" for err in cause.errors())
    return exc.reason.startswith("missing")


def event_id_of(frame: str) -> str | None:
    """The frame's top-level ``event_id``, or None when the frame cannot be read (bad
    JSON, or nesting deeper than the decoder's recursion limit)."""
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    value = data.get("event_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
