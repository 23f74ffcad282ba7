"""The simulator's token counts: the estimate of :mod:`accord.tokens`, and what only a
server counts.

The per-item estimate lives in :mod:`accord.tokens` because the engine judges with the
same one when the server may have truncated (docs/simulator.md, "Tokens"). This module
adds the instructions (their text and the tools' JSON), items accord does not model (MCP
items, by their JSON), and the ``usage`` object of ``response.done``, which follows the
recorded one (the parity session's): ``input_token_details`` splits text, audio and image
tokens and names the cached ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from accord.tokens import (
    ASSISTANT_AUDIO_MS_PER_TOKEN,
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    ITEM_OVERHEAD,
    USER_AUDIO_MS_PER_TOKEN,
    ZERO,
    Count,
    item_tokens,
    text_tokens,
)

__all__ = [
    "ASSISTANT_AUDIO_MS_PER_TOKEN",
    "CHARS_PER_TOKEN",
    "IMAGE_TOKENS",
    "ITEM_OVERHEAD",
    "USER_AUDIO_MS_PER_TOKEN",
    "ZERO",
    "Count",
    "instruction_tokens",
    "item_tokens",
    "text_tokens",
    "usage",
    "wire_tokens",
]


def wire_tokens(wire: Mapping[str, Any]) -> Count:
    """The estimate for an item accord does not model (MCP items), from its JSON."""
    return Count(ITEM_OVERHEAD + text_tokens(json.dumps(wire, separators=(",", ":"))))


def instruction_tokens(instructions: str, tools: Sequence[Mapping[str, Any]]) -> Count:
    """What comes before the conversation: the instructions and the tool definitions."""
    spelled = json.dumps(list(tools), separators=(",", ":")) if tools else ""
    return Count(text_tokens(instructions) + text_tokens(spelled))


def usage(input_count: Count, cached: Count, output: Count) -> dict[str, Any]:
    """A ``response.done`` usage object with the recorded keys."""
    return {
        "total_tokens": input_count.total + output.total,
        "input_tokens": input_count.total,
        "output_tokens": output.total,
        "input_token_details": {
            "text_tokens": input_count.text,
            "audio_tokens": input_count.audio,
            "image_tokens": input_count.image,
            "cached_tokens": cached.total,
            "cached_tokens_details": {
                "text_tokens": cached.text,
                "audio_tokens": cached.audio,
                "image_tokens": cached.image,
            },
        },
        "output_token_details": {"text_tokens": output.text, "audio_tokens": output.audio},
    }
