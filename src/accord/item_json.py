"""Items as plain JSON objects, for what accord writes down itself: the journal's
records and a recording's trace.

One spelling for both, so a kind added to :mod:`accord.items` cannot be forgotten by
one of them (the MCP kinds were, once). It is accord's own record format, not the
wire's: each dataclass field as it is, ``McpListTools.tools`` as a list of objects.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from accord.items import ITEM_TYPES, Item, McpListTools, McpTool

#: Every item kind by the name records give it (the class name).
KINDS: dict[str, type[Any]] = {cls.__name__: cls for cls in ITEM_TYPES}


def item_fields(item: Item) -> dict[str, Any]:
    """The item's fields as JSON values (a tool listing's tools as objects)."""
    return asdict(item)


def item_of(kind: str, fields: dict[str, Any]) -> Item:
    """The item of ``kind`` from :func:`item_fields`; KeyError for an unknown kind,
    TypeError or ValueError for fields that do not make one."""
    cls = KINDS[kind]
    if cls is McpListTools:
        fields = {**fields, "tools": tuple(McpTool(**t) for t in fields.get("tools", ()))}
    item: Item = cls(**fields)
    return item
