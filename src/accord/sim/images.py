"""Image content in user messages (``input_image`` parts).

accord's items carry no images, so the simulator keeps what the model reads of a user
message with images (its text) as the item, and the message as sent beside it: the
server's echoes (``conversation.item.added`` / ``.done``, ``conversation.item.retrieved``)
show the image parts as the client sent them (assumed; no recording shows an image),
and each image counts :data:`~accord.sim.tokens.IMAGE_TOKENS` in the context window.
"""

from __future__ import annotations

from typing import Any

from accord.protocol.wire_items import InputImagePart, WireMessage


def image_count(wire: Any) -> int:
    """How many ``input_image`` parts a wire item carries."""
    if not isinstance(wire, WireMessage):
        return 0
    return sum(isinstance(part, InputImagePart) for part in wire.content)


def without_images(wire: Any) -> Any:
    """``wire`` with its image parts left out (what accord's items can hold)."""
    if not image_count(wire):
        return wire
    kept = tuple(p for p in wire.content if not isinstance(p, InputImagePart))
    return wire.model_copy(update={"content": kept})
