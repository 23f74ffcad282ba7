"""An out-of-band ``response.create``'s ``input``: inline items and item references.

A reference names an item of the conversation (an unknown id refuses the whole
response); an inline item is read as given, under a fresh id when it has none. None of
them enter the conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from accord.items import Item
from accord.protocol import UnsupportedItemError, item_from_wire
from accord.sim.errors import ServerError
from accord.sim.images import without_images
from accord.sim.store import ConversationStore


def resolve_input(
    entries: Iterable[Any],
    store: ConversationStore,
    new_id: Callable[[str], str],
    event_id: str | None,
) -> list[Item] | ServerError:
    """The items the model reads for ``entries``, or the error that refuses them."""
    items: list[Item] = []
    for entry in entries:
        if entry.type == "item_reference":
            found = store.get(entry.id)
            if found is None:
                return ServerError(
                    "invalid_value",
                    f"Item with id '{entry.id}' not found in conversation.",
                    "response.input",
                    event_id,
                )
            items.append(found)
            continue
        try:
            # Image parts are read but not kept (sim/images.py).
            inline = without_images(entry).model_copy(update={"id": entry.id or new_id("item")})
            items.append(item_from_wire(inline))
        except UnsupportedItemError as exc:
            return ServerError("invalid_value", str(exc), "response.input", event_id)
    return items
