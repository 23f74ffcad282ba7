"""Server-side truncation, as a rule both the simulator and the engine apply.

The session's ``truncation`` (the SDK's ``RealtimeTruncation``) decides what the server
does when the conversation after the instructions outgrows its token limit at the start
of a response (token counts: :mod:`accord.tokens`):

- ``"auto"`` (the default): the oldest items are dropped until the rest fits the limit
  (assumed: "fits" means at most the limit, as if the retention ratio were 1.0);
- ``{"type": "retention_ratio", "retention_ratio": r, "token_limits":
  {"post_instructions": N}}``: the oldest items are dropped until at most ``r * N``
  tokens remain;
- ``"disabled"``: nothing is dropped and the response fails.

The simulator cuts with :func:`plan_cut`; the engine uses the same plan to know which
items the server may have dropped, and confirms before it names one (docs/truncation.md).
The limit without ``token_limits`` is the model's: :data:`DEFAULT_POST_INSTRUCTIONS` (the
SDK's docstring: "A 32k context model with 4,096 max output tokens can only include
28,224 tokens in the context before truncation occurs").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_POST_INSTRUCTIONS = 28_224

Mode = Literal["auto", "disabled", "retention_ratio"]


@dataclass(frozen=True, slots=True)
class Truncation:
    """The truncation in force: its mode, the token limit and what a cut keeps."""

    mode: Mode = "auto"
    limit: int = DEFAULT_POST_INSTRUCTIONS
    retention_ratio: float = 1.0

    @property
    def target(self) -> int:
        """How many tokens a truncation leaves at most."""
        return math.floor(self.limit * self.retention_ratio)


def truncation_of(setting: Any, default_limit: int = DEFAULT_POST_INSTRUCTIONS) -> Truncation:
    """The session's ``truncation`` value (already validated by :func:`check_setting`)."""
    if setting == "disabled":
        return Truncation("disabled", default_limit, 1.0)
    if isinstance(setting, Mapping) and setting.get("type") == "retention_ratio":
        limits = setting.get("token_limits") or {}
        limit = limits.get("post_instructions")
        return Truncation(
            "retention_ratio",
            default_limit if limit is None else int(limit),
            float(setting["retention_ratio"]),
        )
    return Truncation("auto", default_limit, 1.0)


@dataclass(frozen=True, slots=True)
class Cut:
    """What a truncation decided: the ids to drop (oldest first) and what remains."""

    dropped: tuple[str, ...]
    remaining: int  # tokens after the instructions once the dropped items are gone
    over: bool = False  # truncation disabled and over the limit: the response fails


def plan_cut(
    conversation: Sequence[tuple[str, int]],
    truncation: Truncation,
    keep: Callable[[str], bool] = lambda _id: False,
) -> Cut:
    """Which items to drop from the front of ``conversation`` (id, tokens), oldest first.

    ``keep``: items that may not go (in flight); the last item never goes.
    """
    total = sum(tokens for _, tokens in conversation)
    if total <= truncation.limit:
        return Cut((), total)
    if truncation.mode == "disabled":
        return Cut((), total, over=True)
    dropped: list[str] = []
    for item_id, tokens in conversation[:-1]:
        if total <= truncation.target or keep(item_id):
            break
        dropped.append(item_id)
        total -= tokens
    return Cut(tuple(dropped), total)
