"""The base class of every wire model: frozen, validated once, serialized the wire's way.

Three habits are shared by every event and item, so they live here once:

- Models are frozen: an event is a value, built whole and never filled in later.
- Building a model with bad fields in our own code raises :class:`InvalidEventError` (a
  :class:`LocalProtocolError`), while the receive path (``model_validate``, used by the
  codec) still raises pydantic's ``ValidationError`` for the codec to turn into a
  :class:`RemoteProtocolError`. The same bad field is a different party's fault
  depending on which way it travels.
- Serialization drops a declared field whose value is ``None`` (the protocol treats an
  absent optional field and a null one alike), except for the fields a model lists in
  ``_KEEP_NULL``, whose null means something (``previous_item_id: null`` is "first
  item"). Keys that came from the peer as extras, and the insides of loosely typed
  ``dict`` payloads (a session's ``turn_detection: null`` disables VAD), are never
  touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from .errors import InvalidEventError

#: Serialization context key: when true, even ``_KEEP_NULL`` fields are dropped when
#: null. Client events use it, since a client omits what it does not set.
DROP_ALL_NULLS = "accord_drop_all_nulls"


def describe_validation_error(exc: ValidationError, data: Any = None) -> tuple[str | None, str]:
    """(dotted wire path of the first bad field, a one-line reason) for a validation error.

    Given the data that failed, the path is rebuilt by walking it, which leaves out the
    union tags pydantic inserts (``item.message.content.0.input_text.text`` becomes
    ``item.content.0.text``), so the message names the field as the peer spelled it.
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return None, str(exc)
    first = errors[0]
    loc = tuple(first["loc"])
    missing = first["type"] == "missing"
    path = _wire_path(loc, data, missing) if data is not None else [str(p) for p in loc]
    reason = first["msg"]
    if first["type"] == "value_error":  # our own validators' messages, minus the prefix
        reason = reason.removeprefix("Value error, ")
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ".".join(path) or None, reason


def _wire_path(loc: tuple[int | str, ...], data: Any, missing: bool) -> list[str]:
    path: list[str] = []
    node = data
    for depth, part in enumerate(loc):
        if isinstance(node, BaseModel):
            node = node.model_dump()
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
        elif not (missing and depth == len(loc) - 1):
            continue  # a union tag pydantic added, not a wire key
        path.append(str(part))
    return path


class WireModel(BaseModel):
    """A frozen wire model; see the module docstring for its construction and output rules."""

    model_config = ConfigDict(frozen=True, extra="allow")

    #: Declared fields serialized as ``null`` rather than dropped when they are None.
    _KEEP_NULL: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            field, reason = describe_validation_error(exc, data)
            where = f" field {field!r}:" if field else ""
            raise InvalidEventError(f"invalid {type(self).__name__}:{where} {reason}") from exc

    # Tell pydantic this __init__ is not a custom one, so `model_validate` (the receive
    # path) keeps raising ValidationError instead of going through the local-blame
    # wrapper above. Direct construction still calls it.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @model_serializer(mode="wrap")
    def _drop_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        context = info.context
        drop_all = isinstance(context, dict) and bool(context.get(DROP_ALL_NULLS))
        keep = frozenset() if drop_all else self._KEEP_NULL
        declared = type(self).model_fields
        return {
            key: value
            for key, value in data.items()
            if value is not None or key not in declared or key in keep
        }
