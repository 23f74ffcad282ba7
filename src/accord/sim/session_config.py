"""The session object: its GA default, and ``session.update`` merged into it.

An update naming a field the server does not know is refused whole with
``unknown_parameter`` (docs/protocol-notes.md: "an unknown session field: code
unknown_parameter and the whole session.update is discarded").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from accord.sim.errors import ServerError
from accord.sim.truncation import check_setting

# The fields of a GA realtime session (the official SDK's RealtimeSessionCreateRequest).
SESSION_FIELDS = frozenset(
    {
        "type",
        "model",
        "instructions",
        "output_modalities",
        "audio",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "include",
        "parallel_tool_calls",
        "prompt",
        "reasoning",
        "tracing",
        "truncation",
    }
)
AUDIO_FIELDS = {
    "input": frozenset({"format", "noise_reduction", "transcription", "turn_detection"}),
    "output": frozenset({"format", "speed", "voice"}),
}
SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}


def second_generation(model: str | None) -> bool:
    """gpt-realtime-2.x, whose sessions and responses differ from gpt-realtime's in the
    recordings (tests/data/real-traces, the parity session)."""
    return (model or "").startswith("gpt-realtime-2")


def server_vad_defaults(model: str | None) -> dict[str, Any]:
    """The turn detection a new session has. Recorded: gpt-realtime sessions start with
    200 ms of silence to end a turn, gpt-realtime-2.1 with 500 (so do other models here,
    as the API reference documents)."""
    first_generation = (model or "").startswith("gpt-realtime") and not second_generation(model)
    silence = 200 if first_generation else 500
    return {**SERVER_VAD, "silence_duration_ms": silence}


def default_session(session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """What ``session.created`` reports for a new GA session (recorded shapes; the voice is
    ``marin`` for gpt-realtime-2.x, ``alloy`` otherwise, as recorded)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": server_vad_defaults(model),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin" if second_generation(model) else "alloy",
                "speed": 1.0,
            },
        },
        "include": None,
    }


def _unknown(param: str, event_id: str | None) -> ServerError:
    # Observed code: unknown_parameter; the message wording follows OpenAI's API errors.
    return ServerError("unknown_parameter", f"Unknown parameter: '{param}'.", param, event_id)


def _invalid(param: str, message: str, event_id: str | None) -> ServerError:
    return ServerError("invalid_value", message, param, event_id)


def merge_update(
    current: Mapping[str, Any], update: Mapping[str, Any], event_id: str | None
) -> dict[str, Any] | ServerError:
    """The session after ``update``, or the error that discards it whole."""
    for key in update:
        if key not in SESSION_FIELDS:
            return _unknown(f"session.{key}", event_id)
    if update.get("type", "realtime") != "realtime":
        return _invalid(
            "session.type",
            "Invalid value for 'session.type': this is a realtime session.",
            event_id,
        )
    modalities = update.get("output_modalities")
    if modalities is not None and (
        not isinstance(modalities, list)
        or not set(modalities) <= {"text", "audio"}
        or len(modalities) != 1
    ):
        return _invalid(
            "session.output_modalities",
            "Invalid 'session.output_modalities': expected ['audio'] or ['text'].",
            event_id,
        )
    refused = _check_settings(update, event_id)
    if refused is not None:
        return refused
    audio = update.get("audio")
    if audio is not None:
        if not isinstance(audio, Mapping):
            return _invalid(
                "session.audio", "Invalid 'session.audio': expected an object.", event_id
            )
        for side, fields in audio.items():
            allowed = AUDIO_FIELDS.get(side)
            if allowed is None:
                return _unknown(f"session.audio.{side}", event_id)
            for key in fields or {}:
                if key not in allowed:
                    return _unknown(f"session.audio.{side}.{key}", event_id)
    merged = copy.deepcopy(dict(current))
    for key, value in update.items():
        if key == "audio":
            for side, fields in value.items():
                merged["audio"].setdefault(side, {}).update(copy.deepcopy(fields or {}))
        else:
            merged[key] = copy.deepcopy(value)
    if isinstance(merged.get("tools"), list):
        merged["tools"] = [_echoed_tool(tool) for tool in merged["tools"]]
    transcription = merged["audio"]["input"].get("transcription")
    if isinstance(transcription, Mapping):
        # Recorded: {"model": M} comes back as {"model": M, "language": null, "prompt": null}.
        merged["audio"]["input"]["transcription"] = {
            "model": None,
            "language": None,
            "prompt": None,
            **transcription,
        }
    turn = merged["audio"]["input"].get("turn_detection")
    if isinstance(turn, Mapping) and turn.get("type") == "server_vad":
        # Recorded: fields the update leaves out keep the model's defaults.
        defaults = server_vad_defaults(merged.get("model"))
        merged["audio"]["input"]["turn_detection"] = {**defaults, **turn}
    return merged


REASONING_EFFORTS = frozenset({"minimal", "low", "medium", "high", "xhigh"})  # the SDK's


def _check_settings(update: Mapping[str, Any], event_id: str | None) -> ServerError | None:
    """``truncation`` and ``reasoning`` as the SDK's types spell them."""
    if "truncation" in update:
        refused = check_setting(update["truncation"], event_id)
        if refused is not None:
            return refused
    reasoning = update.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, Mapping) or set(reasoning) - {"effort"}:
            return _invalid("session.reasoning", "Invalid 'session.reasoning'.", event_id)
        effort = reasoning.get("effort")
        if effort is not None and effort not in REASONING_EFFORTS:
            return _invalid(
                "session.reasoning.effort",
                f"Invalid value: '{effort}'. Supported values are: "
                + ", ".join(f"'{e}'" for e in sorted(REASONING_EFFORTS))
                + ".",
                event_id,
            )
    return None


def _echoed_tool(tool: Any) -> Any:
    """A function tool as session.updated echoes it. Recorded: the server re-serializes
    tools (keys in the order type, name, description, parameters, not the client's);
    that a missing description comes back as null is assumed from that."""
    if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
        return tool
    echoed = {"type": "function", "name": tool.get("name"), "description": None}
    if "parameters" in tool:
        echoed["parameters"] = tool["parameters"]
    return {**echoed, **tool}


def server_vad(session: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The server VAD settings in force, or None when turn detection is off."""
    turn = session.get("audio", {}).get("input", {}).get("turn_detection")
    if isinstance(turn, Mapping) and turn.get("type") in ("server_vad", "semantic_vad"):
        return turn
    return None


def speaks(session: Mapping[str, Any]) -> bool:
    return "audio" in (session.get("output_modalities") or ["audio"])
