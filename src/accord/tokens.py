"""Token counts of conversation items: a documented estimate, not a tokenizer.

The real server counts tokens with the model's tokenizer and its audio encoder; neither
is public. The simulator counts with this estimate (so a client can compute exactly what
it will), and the engine uses the same one to judge when the server may have truncated
the conversation (a judgement it then confirms with ``conversation.item.retrieve``:
docs/truncation.md). The rules:

- text: ``ceil(chars / 4)`` (OpenAI's rule of thumb, about four characters a token);
- user audio: one token per 100 ms, assistant audio one per 50 ms (OpenAI's published
  audio rates); audio of unknown length counts its transcript as text;
- every item adds :data:`ITEM_OVERHEAD` tokens (its role and framing);
- a function call counts its name and arguments, an output its output;
- an MCP item counts its fields as compact JSON (the simulator counts the wire item's
  fields the same way), so a tool listing weighs what its schemas weigh.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

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
    fields = {k: v for k, v in asdict(item).items() if k != "id"}  # an MCP item
    return Count(ITEM_OVERHEAD + text_tokens(json.dumps(fields, separators=(",", ":"))))
