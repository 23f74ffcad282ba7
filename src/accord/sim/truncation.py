"""Server-side truncation: the server drops the oldest items by itself, silently.

The session's ``truncation`` (the SDK's ``RealtimeTruncation``) decides what happens when
the conversation after the instructions outgrows its token limit at the start of a
response (token counts: sim/tokens.py):

- ``"auto"`` (the default): the oldest items are dropped until the rest fits the limit
  (assumed: "fits" means at most the limit, as if the retention ratio were 1.0; the
  documentation says only that the oldest messages are dropped);
- ``{"type": "retention_ratio", "retention_ratio": r, "token_limits":
  {"post_instructions": N}}``: the oldest items are dropped until at most ``r * N``
  tokens remain, so that the next truncation comes later and the cached prefix lasts;
- ``"disabled"``: nothing is dropped and the response fails (:func:`overflow_error`).

The limit without ``token_limits`` is the model's: :data:`DEFAULT_POST_INSTRUCTIONS`
(the SDK's docstring: "A 32k context model with 4,096 max output tokens can only include
28,224 tokens in the context before truncation occurs"), or what ``SimConfig`` says.

No ``conversation.item.deleted`` is sent for a dropped item (issue 18); only
``conversation.item.retrieve`` (an error for a dropped id) and ``usage`` show it. The
items being answered (the last item, and the tool round it ends: the calls and outputs
before it, up to a message) are never dropped, nor is an item still in flight. Items go
oldest first and only from the front: the first item that may not go stops the cut.

The cache: the input a response shares, from its start, with what the previous response
read and wrote counts as cached (``input_token_details.cached_tokens``); the
instructions are part of that prefix, so truncation at the front leaves only them cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.sim.errors import ServerError
from accord.sim.tokens import ZERO, Count
from accord.truncation import (
    DEFAULT_POST_INSTRUCTIONS,
    Cut,
    Mode,
    Truncation,
    plan_cut,
    truncation_of,
)

__all__ = [
    "DEFAULT_POST_INSTRUCTIONS",
    "Cut",
    "Entry",
    "Mode",
    "PromptCache",
    "Truncation",
    "check_setting",
    "overflow_error",
    "plan_cut",
    "truncation_of",
]


def check_setting(setting: Any, event_id: str | None) -> ServerError | None:
    """Refuse a ``truncation`` the SDK's types do not allow (the whole update is dropped)."""
    if setting in ("auto", "disabled"):
        return None
    if isinstance(setting, Mapping) and setting.get("type") == "retention_ratio":
        unknown = set(setting) - {"type", "retention_ratio", "token_limits"}
        ratio = setting.get("retention_ratio")
        limits = setting.get("token_limits")
        if unknown:
            return _invalid(
                f"session.truncation.{sorted(unknown)[0]}", event_id, "unknown_parameter"
            )
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0.0 <= ratio <= 1.0:
            return _invalid("session.truncation.retention_ratio", event_id)
        if limits is not None:
            if not isinstance(limits, Mapping) or set(limits) - {"post_instructions"}:
                return _invalid("session.truncation.token_limits", event_id)
            limit = limits.get("post_instructions")
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
            ):
                return _invalid("session.truncation.token_limits.post_instructions", event_id)
        return None
    return _invalid("session.truncation", event_id)


def _invalid(param: str, event_id: str | None, code: str = "invalid_value") -> ServerError:
    # Assumed wording, in the style of the server's other invalid_value errors.
    return ServerError(code, f"Invalid value for '{param}'.", param, event_id)


def overflow_error(tokens: int, limit: int) -> ServerError:
    """A response refused because the conversation is over the limit and truncation is
    disabled. Assumed (unconfirmed on the Realtime API): the code and wording OpenAI's
    other APIs use for a context overflow, reported in the failed ``response.done``."""
    return ServerError(
        "context_length_exceeded",
        f"Your input exceeds the context window of this model ({tokens} tokens after the "
        f"instructions, limit {limit}). Please adjust your input and try again.",
        None,
        None,
    )


Entry = tuple[str, Count]  # a fingerprint of something the model read, and its tokens


#: Prompts the cache remembers. OpenAI's prompt caching keeps each prefix it saw for
#: minutes (platform.openai.com/docs/guides/prompt-caching), so one different prompt in
#: between (an out-of-band summary) does not evict the conversation's; a few suffice
#: for a simulated session, and the bound keeps a long one's memory flat.
REMEMBERED_PROMPTS = 8


@dataclass
class PromptCache:
    """What recent responses read and wrote, to count the next one's cached prefix."""

    recent: list[list[Entry]] = field(default_factory=list)
    _printed: list[list[str]] = field(default_factory=list)  # recent's fingerprints

    def cached(self, prompt: Sequence[Entry]) -> Count:
        """Tokens of the longest prefix of ``prompt`` a recent response also had."""
        if not self.recent:
            return ZERO
        # The prompt's running sums, once; each remembered prompt then costs only the
        # length of the prefix it shares (found comparing fingerprints), not a Count
        # added up item by item for each of them.
        sums = [(0, 0, 0)]
        text = audio = image = 0
        for _, count in prompt:
            text, audio, image = text + count.text, audio + count.audio, image + count.image
            sums.append((text, audio, image))
        printed = [mine for mine, _ in prompt]
        best, best_total = ZERO, 0
        for seen in self._printed:
            shared = _shared_prefix(printed, seen)
            text, audio, image = sums[shared]
            if text + audio + image > best_total:
                best, best_total = Count(text, audio, image), text + audio + image
        return best

    def remember(self, prompt: Sequence[Entry], written: Sequence[Entry]) -> None:
        entries = [*prompt, *written]
        self.recent.append(entries)
        self._printed.append([printed for printed, _ in entries])
        del self.recent[:-REMEMBERED_PROMPTS], self._printed[:-REMEMBERED_PROMPTS]


def _shared_prefix(mine: list[str], theirs: list[str]) -> int:
    """How many fingerprints ``mine`` and ``theirs`` share from their start."""
    n = min(len(mine), len(theirs))
    if mine[:n] == theirs[:n]:
        return n  # the common case: the previous prompt and its output, extended
    shared = 0
    while mine[shared] == theirs[shared]:
        shared += 1
    return shared
