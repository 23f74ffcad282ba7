"""Every difference between the GA and beta spellings of the Realtime protocol, in one place.

The GA protocol renamed some server events, renamed assistant content parts
(``text``/``audio`` became ``output_text``/``output_audio``), moved session audio
settings under ``session.audio.input/output`` with a ``type: "realtime"`` marker, and
renamed ``modalities`` / ``max_response_output_tokens``. Beta servers (the older Azure
``api-version`` endpoints, old recordings) still speak the other way.

accord's models are GA-shaped, with two exceptions kept for losslessness: server events
accept the beta event names as their ``type`` (so an event remembers the dialect it
came in) and content parts accept the beta part types. Conversion happens on plain JSON
dicts, just before encoding or just after decoding, so no model carries two shapes.

Functions here raise ``ValueError`` for something that has no spelling in the target
dialect; the codec turns that into the error of whichever side is to blame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any


class Dialect(StrEnum):
    """Which spelling of the protocol an event uses."""

    GA = "ga"
    BETA = "beta"


#: Server event names that differ, beta -> GA. ``conversation.item.created`` has the
#: semantics of GA ``conversation.item.added`` (beta has no ``conversation.item.done``).
BETA_SERVER_EVENT_NAMES: Mapping[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
}

#: The same table, GA -> beta.
GA_SERVER_EVENT_NAMES: Mapping[str, str] = {ga: b for b, ga in BETA_SERVER_EVENT_NAMES.items()}

#: GA server events with no beta counterpart at all.
GA_ONLY_SERVER_EVENT_NAMES: frozenset[str] = frozenset({"conversation.item.done"})

#: Assistant content part types, GA -> beta (user and system parts are spelled alike).
#: Events that carry base64 audio (both dialects) -> the field holding it: what a
#: recording redacts and what a witness counting received audio reads.
AUDIO_PAYLOAD_FIELDS: Mapping[str, str] = {
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
    "input_audio_buffer.append": "audio",
}
#: The server's audio deltas, GA and beta, as they appear quoted in a frame's text.
QUOTED_AUDIO_DELTAS: tuple[str, ...] = ('"response.output_audio.delta"', '"response.audio.delta"')

GA_CONTENT_PART_TYPES: Mapping[str, str] = {"output_text": "text", "output_audio": "audio"}
BETA_CONTENT_PART_TYPES: Mapping[str, str] = {b: ga for ga, b in GA_CONTENT_PART_TYPES.items()}

#: Top-level keys of a session or response object renamed between dialects, GA -> beta.
GA_CONFIG_KEYS: Mapping[str, str] = {
    "output_modalities": "modalities",
    "max_output_tokens": "max_response_output_tokens",
}
BETA_CONFIG_KEYS: Mapping[str, str] = {b: ga for ga, b in GA_CONFIG_KEYS.items()}

#: The response *object* (``response.created`` / ``response.done``) is spelled
#: ``max_output_tokens`` in both dialects; only its modalities were renamed.
GA_RESPONSE_OBJECT_KEYS: Mapping[str, str] = {"output_modalities": "modalities"}
BETA_RESPONSE_OBJECT_KEYS: Mapping[str, str] = {b: ga for ga, b in GA_RESPONSE_OBJECT_KEYS.items()}

#: Keys of GA ``session.audio.input`` / ``session.audio.output`` and the flat beta keys
#: they become. Formats are translated by the tables below.
GA_AUDIO_INPUT_KEYS: Mapping[str, str] = {
    "format": "input_audio_format",
    "transcription": "input_audio_transcription",
    "turn_detection": "turn_detection",
    "noise_reduction": "input_audio_noise_reduction",
}
GA_AUDIO_OUTPUT_KEYS: Mapping[str, str] = {
    "format": "output_audio_format",
    "voice": "voice",
    "speed": "speed",
}

_AUDIO_SECTIONS = (("input", GA_AUDIO_INPUT_KEYS), ("output", GA_AUDIO_OUTPUT_KEYS))

#: GA audio format ``type`` -> beta format name. GA PCM is always 24 kHz.
GA_AUDIO_FORMATS: Mapping[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
BETA_AUDIO_FORMATS: Mapping[str, str] = {b: ga for ga, b in GA_AUDIO_FORMATS.items()}
PCM_RATE = 24000


def server_event_dialect(event_type: str) -> Dialect | None:
    """The dialect an event name belongs to, or None when both dialects spell it alike."""
    if event_type in BETA_SERVER_EVENT_NAMES:
        return Dialect.BETA
    if event_type in GA_SERVER_EVENT_NAMES or event_type in GA_ONLY_SERVER_EVENT_NAMES:
        return Dialect.GA
    return None


def session_dialect(session: Mapping[str, Any]) -> Dialect:
    """A GA session object carries ``type`` (``"realtime"``); a beta one has none."""
    return Dialect.GA if "type" in session else Dialect.BETA


# -- modalities and formats -------------------------------------------------------------


def _modalities_to_beta(value: Any) -> Any:
    # GA allows ["text"] or ["audio"] (audio implies its transcript); beta refuses
    # ["audio"] alone and spells the same thing ["text", "audio"].
    if isinstance(value, list) and "audio" in value:
        return ["text", "audio"]
    return value


def _modalities_from_beta(value: Any) -> Any:
    if isinstance(value, list) and "audio" in value:
        return ["audio"]
    return value


def _format_to_beta(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") not in GA_AUDIO_FORMATS:
        raise ValueError(f"audio format {value!r} has no beta spelling")
    rate = value.get("rate", PCM_RATE)
    if rate != PCM_RATE:
        raise ValueError(f"audio format {value!r} has no beta spelling (beta PCM is 24 kHz)")
    return GA_AUDIO_FORMATS[value["type"]]


def _format_from_beta(value: Any) -> Any:
    if value is None:
        return None
    if value not in BETA_AUDIO_FORMATS:
        raise ValueError(f"beta audio format {value!r} is not one of {sorted(BETA_AUDIO_FORMATS)}")
    ga_type = BETA_AUDIO_FORMATS[value]
    return {"type": ga_type, "rate": PCM_RATE} if ga_type == "audio/pcm" else {"type": ga_type}


# -- items ------------------------------------------------------------------------------


def _retype_part(part: Any, table: Mapping[str, str]) -> Any:
    if not isinstance(part, Mapping) or part.get("type") not in table:
        return part
    return {**part, "type": table[part["type"]]}


def _retype_parts(item: Any, table: Mapping[str, str]) -> Any:
    if not isinstance(item, Mapping) or not isinstance(item.get("content"), list):
        return item
    return {**item, "content": [_retype_part(part, table) for part in item["content"]]}


def item_to_beta(item: Any) -> Any:
    """A GA item dict in beta spelling (assistant parts ``output_*`` -> ``text``/``audio``)."""
    return _retype_parts(item, GA_CONTENT_PART_TYPES)


def item_from_beta(item: Any) -> Any:
    """A beta item dict in GA spelling (assistant parts ``text``/``audio`` -> ``output_*``)."""
    return _retype_parts(item, BETA_CONTENT_PART_TYPES)


# -- session and response objects -------------------------------------------------------


def _rename_keys(obj: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        new_key = table.get(key, key)
        if new_key in out:
            raise ValueError(f"both {key!r} and {new_key!r} are set")
        out[new_key] = value
    return out


def _config_to_beta(
    obj: Mapping[str, Any], renames: Mapping[str, str] = GA_CONFIG_KEYS
) -> dict[str, Any]:
    """Shared by session and response objects: renamed keys, flattened audio, items."""
    out = _rename_keys({k: v for k, v in obj.items() if k != "audio"}, renames)
    if "modalities" in out:
        out["modalities"] = _modalities_to_beta(out["modalities"])
    audio = obj.get("audio")
    if isinstance(audio, Mapping):
        for section, keys in _AUDIO_SECTIONS:
            settings = audio.get(section) or {}
            for key, value in settings.items():
                if key not in keys:
                    raise ValueError(f"session.audio.{section}.{key} has no beta spelling")
                beta_key = keys[key]
                if beta_key in out:
                    raise ValueError(f"both audio.{section}.{key} and {beta_key!r} are set")
                out[beta_key] = _format_to_beta(value) if key == "format" else value
    elif audio is not None:
        raise ValueError(f"audio settings must be an object, got {audio!r}")
    for key in ("input", "output"):
        if isinstance(out.get(key), list):
            out[key] = [item_to_beta(item) for item in out[key]]
    return out


def _config_from_beta(
    obj: Mapping[str, Any], renames: Mapping[str, str] = BETA_CONFIG_KEYS
) -> dict[str, Any]:
    out = _rename_keys(obj, renames)
    if "output_modalities" in out:
        out["output_modalities"] = _modalities_from_beta(out["output_modalities"])
    audio: dict[str, dict[str, Any]] = {}
    for section, keys in _AUDIO_SECTIONS:
        for ga_key, beta_key in keys.items():
            if beta_key in out:
                value = out.pop(beta_key)
                audio.setdefault(section, {})[ga_key] = (
                    _format_from_beta(value) if ga_key == "format" else value
                )
    if audio:
        out["audio"] = audio
    for key in ("input", "output"):
        if isinstance(out.get(key), list):
            out[key] = [item_from_beta(item) for item in out[key]]
    return out


def session_to_beta(session: Mapping[str, Any]) -> dict[str, Any]:
    """A GA session object in beta shape: no ``type``, flat audio keys, beta names.

    A session without ``type`` is already beta-shaped and is returned unchanged.
    """
    if "type" not in session:
        return dict(session)
    kind = session["type"]
    if kind != "realtime":
        raise ValueError(f"a {kind!r} session has no beta spelling in session.update")
    return _config_to_beta({k: v for k, v in session.items() if k != "type"})


def session_from_beta(session: Mapping[str, Any]) -> dict[str, Any]:
    """A beta session object in GA shape (``type: "realtime"`` added).

    A session with a ``type`` is already GA-shaped and is returned unchanged.
    """
    if "type" in session:
        return dict(session)
    return {"type": "realtime", **_config_from_beta(session)}


def response_to_beta(response: Mapping[str, Any]) -> dict[str, Any]:
    """``response.create`` params in beta shape."""
    return _config_to_beta(response)


def response_from_beta(response: Mapping[str, Any]) -> dict[str, Any]:
    """``response.create`` params in GA shape."""
    return _config_from_beta(response)


def response_object_to_beta(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response object (``response.created`` / ``response.done``) in beta shape."""
    return _config_to_beta(response, GA_RESPONSE_OBJECT_KEYS)


def response_object_from_beta(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response object in GA shape."""
    return _config_from_beta(response, BETA_RESPONSE_OBJECT_KEYS)


# -- whole events -----------------------------------------------------------------------

_Convert = Callable[[Mapping[str, Any]], dict[str, Any]]
_Converters = tuple[_Convert, _Convert, _Convert]  # session, response params, response object
_TO_BETA: _Converters = (session_to_beta, response_to_beta, response_object_to_beta)
_FROM_BETA: _Converters = (session_from_beta, response_from_beta, response_object_from_beta)


def _convert_payloads(event: dict[str, Any], converters: _Converters) -> dict[str, Any]:
    session, params, response_object = converters
    if isinstance(event.get("session"), Mapping):
        event["session"] = session(event["session"])
    if isinstance(event.get("response"), Mapping):
        convert = params if event.get("type") == "response.create" else response_object
        event["response"] = convert(event["response"])
    return event


def event_to_beta(event: Mapping[str, Any]) -> dict[str, Any]:
    """A GA event dict (client or server) respelled for a beta peer.

    Converts the event name, its ``item``, and its ``session`` / ``response`` object.
    Raises ``ValueError`` for a GA-only event (``conversation.item.done``).
    """
    event_type = event.get("type")
    if event_type in GA_ONLY_SERVER_EVENT_NAMES:
        raise ValueError(f"event {event_type!r} has no beta spelling")
    out = dict(event)
    if isinstance(event_type, str):
        out["type"] = GA_SERVER_EVENT_NAMES.get(event_type, event_type)
    if "item" in out:
        out["item"] = item_to_beta(out["item"])
    return _convert_payloads(out, _TO_BETA)


def event_from_beta(event: Mapping[str, Any]) -> dict[str, Any]:
    """A beta event dict (client or server) respelled in GA."""
    out = dict(event)
    event_type = event.get("type")
    if isinstance(event_type, str):
        out["type"] = BETA_SERVER_EVENT_NAMES.get(event_type, event_type)
    if "item" in out:
        out["item"] = item_from_beta(out["item"])
    return _convert_payloads(out, _FROM_BETA)
