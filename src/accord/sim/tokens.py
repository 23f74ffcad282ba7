"""The simulator's token counts: a documented estimate, not a tokenizer.

The real server counts tokens with the model's tokenizer and its audio encoder; neither
is public, so the simulator estimates, the same way every time, so that a client can
compute exactly what the simulator will (docs/simulator.md, "Tokens"):

- text: ``ceil(chars / 4)`` (OpenAI's rule of thumb, about four characters a token);
- user audio: one token per 100 ms, assistant audio one per 50 ms (OpenAI's published
  audio rates); audio of unknown length counts its transcript as text;
- every item adds :data:`ITEM_OVERHEAD` tokens (its role and framing);
- a function call counts its name and arguments, an output its output;
- the instructions count their text, the tools their JSON.

Usage follows the recorded ``usage`` object (the parity session's ``response.done``):
``input_token_details`` splits text, audio and image tokens and names the cached ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.items import FunctionCall, FunctionCallOutput, Item, Message

CHARS_PER_TOKEN = 4
ITEM_OVERHEAD = 4
USER_AUDIO_MS_PER_TOKEN = 100
ASSISTANT_AUDIO_MS_PER_TOKEN = 50
IMAGE_TOKENS = 85  # an image part: OpenAI's flat rate for a low-detail image


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Count:
    """Tokens of one item (or the instructions), by kind."""

    text: int = 0
    audio: int = 0
    image: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio + self.image

    def __add__(self, other: Count) -> Count:
        return Count(self.text + other.text, self.audio + other.audio, self.image + other.image)


ZERO = Count()


def item_tokens(item: Item, *, images: int = 0) -> Count:
    """The estimate for one conversation item; ``images``: image parts it carried."""
    image = images * IMAGE_TOKENS
    if isinstance(item, Message):
        if item.audio and item.audio_ms is not None:
            rate = (
                ASSISTANT_AUDIO_MS_PER_TOKEN
                if item.role == "assistant"
                else USER_AUDIO_MS_PER_TOKEN
            )
            return Count(ITEM_OVERHEAD, math.ceil(item.audio_ms / rate), image)
        return Count(ITEM_OVERHEAD + text_tokens(item.text), 0, image)
    if isinstance(item, FunctionCall):
        return Count(ITEM_OVERHEAD + text_tokens(item.name + item.arguments))
    if isinstance(item, FunctionCallOutput):
        return Count(ITEM_OVERHEAD + text_tokens(item.output))
    raise TypeError(f"not a conversation item: {item!r}")


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
