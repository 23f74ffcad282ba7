"""Decoding and encoding: bytes or text in, typed events out, and back.

Dispatch is one table per direction, built from the event classes' own ``type``
literals, so a type string maps to exactly one class and an event is never validated
against a class it does not name (the official SDK's union silently picks some other
model for an unknown type; this codec returns :class:`UnknownEvent` instead).

Errors on the way in are :class:`RemoteProtocolError` subclasses (the peer's fault);
errors on the way out are :class:`LocalProtocolError` subclasses (ours).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar, get_args

import msgspec
from pydantic import ValidationError

from .base import DROP_ALL_NULLS, WireModel, describe_validation_error
from .client_events import CLIENT_EVENT_CLASSES, ClientEvent
from .errors import FrameTooDeepError, InvalidJSONError, LocalProtocolError, MalformedEventError
from .server_events import SERVER_EVENT_CLASSES, ServerEvent
from .spellings import Dialect, event_from_beta, event_to_beta


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event whose ``type`` is not in the dispatch table, kept whole in ``raw``.

    A session ignores it (the server may add events); the simulator answers a client's
    unknown type with ``invalid_value`` on ``type``. ``encode`` sends ``raw`` back as is.
    """

    type: str
    raw: Mapping[str, Any] = field(repr=False)


_E = TypeVar("_E", bound=WireModel)


def type_names(cls: type[WireModel]) -> tuple[str, ...]:
    """The ``type`` strings an event class accepts (GA first, then any beta name)."""
    names = get_args(cls.model_fields["type"].annotation)
    if not names or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{cls.__name__}.type must be a Literal of strings")
    return names


def _dispatch_table(classes: tuple[type[_E], ...]) -> Mapping[str, type[_E]]:
    table: dict[str, type[_E]] = {}
    for cls in classes:
        for name in type_names(cls):
            if name in table:
                raise TypeError(f"{name!r} is claimed by {table[name].__name__} and {cls.__name__}")
            table[name] = cls
    return MappingProxyType(table)


#: Server event type (GA and beta names) -> class.
SERVER_EVENTS: Mapping[str, type[ServerEvent]] = _dispatch_table(SERVER_EVENT_CLASSES)

#: Client event type -> class.
CLIENT_EVENTS: Mapping[str, type[ClientEvent]] = _dispatch_table(CLIENT_EVENT_CLASSES)

RawEvent: TypeAlias = bytes | bytearray | str | Mapping[str, Any]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: One decoder for every frame: ``json.loads`` with any keyword argument builds a new
#: ``JSONDecoder`` per call, which cost about 1.6x a plain ``json.loads`` per event.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
#: msgspec reads a frame 3-4x as fast and what it reads, ``json`` reads alike (a test
#: holds the two to it); what it refuses (numbers beyond a double, escaped lone
#: surrogates, deep nesting) goes to ``json``, which accepts or reports it as before.
_FAST_DECODE = msgspec.json.Decoder().decode


def _decode(data: RawEvent) -> dict[str, Any]:
    """The event as a fresh dict, or :class:`InvalidJSONError`."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJSONError(f"frame is not UTF-8: {exc}") from exc
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError(f"expected bytes, str or a mapping, got {type(data).__name__}")
    try:
        value = _FAST_DECODE(text)
    except (ValueError, RecursionError):  # the json decoder has the last word
        try:
            value = _DECODER.decode(text)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise InvalidJSONError(f"invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise FrameTooDeepError(f"frame nested too deeply to decode: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidJSONError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _event_type(obj: Mapping[str, Any]) -> str:
    if "type" not in obj:
        raise MalformedEventError("missing 'type'", field="type")
    event_type = obj["type"]
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEventError(
            f"'type' must be a non-empty string, got {event_type!r}", field="type"
        )
    return event_type


def _validate(cls: type[_E], event_type: str, obj: dict[str, Any]) -> _E:
    try:
        return cls.model_validate(obj)
    except RecursionError as exc:
        raise FrameTooDeepError(
            f"fields nested too deeply to validate: {exc}", event_type=event_type
        ) from exc
    except ValidationError as exc:
        bad_field, reason = describe_validation_error(exc, obj)
        raise MalformedEventError(reason, event_type=event_type, field=bad_field) from exc


def parse_server_event(data: RawEvent) -> ServerEvent | UnknownEvent:
    """Decode one server event (either dialect), as received from the server.

    Returns the typed event, or :class:`UnknownEvent` for a type not in
    :data:`SERVER_EVENTS`. Raises :class:`InvalidJSONError` for a frame that is not a JSON
    object and :class:`MalformedEventError` for a missing type or a known type whose fields
    do not validate. Beta spellings are kept as received (see ``event.dialect``).
    """
    obj = _decode(data)
    event_type = _event_type(obj)
    cls = SERVER_EVENTS.get(event_type)
    if cls is None:
        return UnknownEvent(event_type, obj)
    return _validate(cls, event_type, obj)


def parse_client_event(
    data: RawEvent, *, dialect: Dialect = Dialect.GA
) -> ClientEvent | UnknownEvent:
    """Decode one client event, as received by a server (the simulator).

    With ``dialect=Dialect.BETA`` a beta-shaped event (flat session audio keys,
    ``modalities``, assistant ``text`` parts) is respelled in GA before validation, so
    the result is the same GA-shaped model either way. Errors as for
    :func:`parse_server_event`.
    """
    obj = _decode(data)
    event_type = _event_type(obj)
    cls = CLIENT_EVENTS.get(event_type)
    if cls is None:
        return UnknownEvent(event_type, obj)
    if dialect is Dialect.BETA:
        try:
            obj = event_from_beta(obj)
        except ValueError as exc:
            raise MalformedEventError(str(exc), event_type=event_type) from exc
    return _validate(cls, event_type, obj)


def to_wire_dict(
    event: ClientEvent | ServerEvent | UnknownEvent, *, dialect: Dialect | None = None
) -> dict[str, Any]:
    """The JSON object :func:`encode` would send, as a dict.

    Client events omit every unset optional field. Server events omit absent fields but
    keep the nulls that mean something (``previous_item_id``, ``error.code``...).
    ``dialect=None`` keeps the event's own spelling (GA for client events); a dialect
    respells the event for a peer of that dialect.
    """
    if isinstance(event, UnknownEvent):
        obj = dict(event.raw)
    elif isinstance(event, ClientEvent):
        obj = event.model_dump(mode="json", context={DROP_ALL_NULLS: True})
    elif isinstance(event, ServerEvent):
        obj = event.model_dump(mode="json")
    else:
        raise LocalProtocolError(f"not an event: {event!r}")
    if dialect is None:
        return obj
    try:
        return event_to_beta(obj) if dialect is Dialect.BETA else event_from_beta(obj)
    except ValueError as exc:
        raise LocalProtocolError(f"cannot spell {obj.get('type')!r} in {dialect}: {exc}") from exc


def encode(
    event: ClientEvent | ServerEvent | UnknownEvent, *, dialect: Dialect | None = None
) -> str:
    """One event as compact JSON text, ready for a WebSocket text frame.

    Audio payloads are the same strings that were received or given, never decoded.
    Raises :class:`LocalProtocolError` for something that is not an event or has no
    spelling in ``dialect``.
    """
    obj = to_wire_dict(event, dialect=dialect)
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"event {obj.get('type')!r} is not JSON-encodable: {exc}") from exc
