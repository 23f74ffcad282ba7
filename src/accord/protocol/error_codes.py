"""The server's error codes, and which client operation each can answer.

A client matches an ``error`` to the operation that caused it by ``error.event_id``.
Some errors carry none: the busy refusal when the server's own response is starting,
and frame-level refusals (an oversized or unparsable frame, where the server never read
the event id). :data:`ANSWERS` says, for each code that only ever answers a client
frame, which kinds of operation it can answer, so such an error can still be matched by
order and type. A code not listed (``server_error`` on its own, a rate limit) may answer
nothing the client sent: with no event id it fails no operation.

Where each code comes from: the real server's strings as observed in public recordings
and issue reports, or documented and assumed, as ``docs/simulator.md`` and the
simulator's ``sim/errors.py`` cite them.
"""

from __future__ import annotations

from typing import Final, Literal

OpKind = Literal["create", "delete", "retrieve", "truncate", "response", "cancel", "session"]
ANY: Final[frozenset[OpKind]] = frozenset(
    ("create", "delete", "retrieve", "truncate", "response", "cancel", "session")
)

SERVER_ERROR: Final = "server_error"  # transient: "You can retry your request"
BUSY: Final = "conversation_already_has_active_response"
CANCEL_NOT_ACTIVE: Final = "response_cancel_not_active"
DUPLICATE_ITEM_ID: Final = "item_create_duplicate_item_id"
UNKNOWN_PREVIOUS_ITEM: Final = "item_create_invalid_previous_item_id"  # assumed
UNKNOWN_DELETE_ITEM: Final = "item_delete_invalid_item_id"  # assumed
UNKNOWN_RETRIEVE_ITEM: Final = "item_retrieve_invalid_item_id"  # assumed
UNKNOWN_CALL: Final = "invalid_tool_call_id"
INVALID_EVENT: Final = "invalid_event"
INVALID_JSON: Final = "invalid_json"
# The server's VAD committed the input buffer first: a manual commit finds it empty.
COMMIT_EMPTY: Final = "input_audio_buffer_commit_empty"
# accord's own codes, never the server's: a frame over the client's size limit, not
# sent; a tool output whose call left the conversation before the output came.
FRAME_TOO_LARGE: Final = "frame_too_large"
CALL_GONE: Final = "call_gone"

ANSWERS: Final[dict[str, frozenset[OpKind]]] = {
    INVALID_EVENT: ANY,
    INVALID_JSON: ANY,
    "invalid_value": ANY,
    "missing_required_parameter": ANY,
    "unknown_parameter": ANY,
    DUPLICATE_ITEM_ID: frozenset(("create",)),
    UNKNOWN_PREVIOUS_ITEM: frozenset(("create",)),
    UNKNOWN_CALL: frozenset(("create",)),
    UNKNOWN_DELETE_ITEM: frozenset(("delete",)),
    UNKNOWN_RETRIEVE_ITEM: frozenset(("retrieve",)),
    "unsupported_content_type": frozenset(("truncate",)),
    CANCEL_NOT_ACTIVE: frozenset(("cancel",)),
    BUSY: frozenset(("response",)),
}

TRANSIENT: Final[frozenset[str]] = frozenset((SERVER_ERROR,))


def names_the_previous_item(code: str | None, message: str) -> bool:
    """The create was refused because its ``previous_item_id`` is not in the
    conversation (the code is unconfirmed; the documented message names it)."""
    return code == UNKNOWN_PREVIOUS_ITEM or "previous item" in message.lower()


def names_a_missing_item(code: str | None, message: str) -> bool:
    """A retrieve was refused because the item is not in the conversation (the code is
    assumed; the documented message says the item "does not exist")."""
    return code == UNKNOWN_RETRIEVE_ITEM or "does not exist" in message.lower()


def is_about_size(message: str) -> bool:
    """A frame-level refusal that blames the frame's size (``invalid_event``)."""
    lowered = message.lower()
    return "size" in lowered or "too large" in lowered or "too long" in lowered
