"""The server's error payloads, reproduced exactly where they were observed.

Each constructor names where its code and message come from. "Observed" means seen from
the real OpenAI Realtime GA server in public recordings and issue reports, as collected in
docs/protocol-notes.md ("Seen from the real server"). "Assumed" means documented
behaviour whose exact payload is unconfirmed: the simulator uses the payload clients
expect, and says so here.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID_REQUEST = "invalid_request_error"


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ``error`` event's payload: what the server refused and why.

    ``event_id`` echoes the client event that caused it (None when the client sent none),
    which is how a client matches an error to its operation.
    """

    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None
    type: str = INVALID_REQUEST


def duplicate_item_id(item_id: str, event_id: str | None) -> ServerError:
    # Observed: item_create_duplicate_item_id; no conversation.item.added follows.
    return ServerError(
        "item_create_duplicate_item_id",
        f"Error adding item: an item with id '{item_id}' already exists.",
        None,
        event_id,
    )


def unknown_previous_item(previous_item_id: str, event_id: str | None) -> ServerError:
    # Assumed: documented ("an unknown id is an error and the item is NOT created"); the
    # message is the plausible one from the notes; the code is unconfirmed.
    return ServerError(
        "item_create_invalid_previous_item_id",
        f"Error adding item: the previous item with id '{previous_item_id}' does not exist.",
        "previous_item_id",
        event_id,
    )


def unknown_item_delete(item_id: str, event_id: str | None) -> ServerError:
    # Assumed: documented; clients expect this code and message.
    return ServerError(
        "item_delete_invalid_item_id",
        f"Error deleting item: the item with id '{item_id}' does not exist.",
        "item_id",
        event_id,
    )


def unknown_item_retrieve(item_id: str, event_id: str | None) -> ServerError:
    # Assumed: documented; clients expect this code.
    return ServerError(
        "item_retrieve_invalid_item_id",
        f"Error retrieving item: the item with id '{item_id}' does not exist.",
        "item_id",
        event_id,
    )


def unknown_item_truncate(item_id: str, event_id: str | None) -> ServerError:
    # Assumed: by analogy with delete and retrieve.
    return ServerError(
        "item_truncate_invalid_item_id",
        f"Error truncating item: the item with id '{item_id}' does not exist.",
        "item_id",
        event_id,
    )


def invalid_tool_call_id(call_id: str, event_id: str | None) -> ServerError:
    # Observed: invalid_tool_call_id.
    return ServerError(
        "invalid_tool_call_id",
        f"Tool call ID '{call_id}' not found in conversation.",
        None,
        event_id,
    )


def id_too_long(param: str, length: int, event_id: str | None, limit: int = 32) -> ServerError:
    # Observed message; the code is the one OpenAI's API uses for over-long strings.
    return ServerError(
        "string_above_max_length",
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {length} instead.",
        param,
        event_id,
    )


def id_bad_pattern(param: str, event_id: str | None) -> ServerError:
    # Observed: code invalid_value with param item.id; the message wording is assumed.
    return ServerError(
        "invalid_value",
        f"Invalid '{param}': string does not match pattern. Expected a string that matches "
        "the pattern '^[a-zA-Z0-9_-]+$'.",
        param,
        event_id,
    )


def truncate_past_audio(audio_ms: int, audio_end_ms: int, event_id: str | None) -> ServerError:
    # Observed (code null in beta, kept null here).
    return ServerError(
        None,
        f"Audio content of {audio_ms}ms is already shorter than {audio_end_ms}ms",
        None,
        event_id,
    )


def truncate_not_audio(event_id: str | None) -> ServerError:
    # Observed: truncating anything but model output audio.
    return ServerError(
        "unsupported_content_type",
        "Only model output audio messages can be truncated",
        None,
        event_id,
    )


SERVER_ERROR = "server_error"


def server_error(session_id: str, event_id: str | None) -> ServerError:
    # Observed (openai/openai-realtime-console issues 51 and 493): type and code
    # server_error, this message with the session id; the session stays open. Whether the
    # real server echoes the client's event_id on it is unconfirmed; it is echoed here
    # like every other error (docs/protocol-notes.md: errors echo the client's event_id).
    return ServerError(
        SERVER_ERROR,
        "The server had an error while processing your request. Sorry about that! You can "
        "retry your request, or contact us through our help center at help.openai.com if "
        f"the error persists. (Please include the session ID {session_id} in your message.)",
        None,
        event_id,
        type=SERVER_ERROR,
    )
