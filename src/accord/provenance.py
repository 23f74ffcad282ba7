"""Why an item was deleted: the vocabulary shared by the engine's decisions and the log.

docs/architecture.md, invariant 1, lists the allowed sources of a delete. A move (the writer
reordered two items relative to its base) is a delete plus a create under a fresh id;
docs/architecture.md names it in the order rule, and it is an allowed source here for that reason.
"""

from __future__ import annotations

from enum import Enum


class DeleteReason(Enum):
    PUSH = "push"  # the push's base held the item and its desired did not
    PAIR_CASCADE = "pair_cascade"  # the call or output paired with such an item
    REWRITE = "rewrite"  # the delete half of a rewrite of an item the writer changed
    MOVE = "move"  # the delete half of a move the writer made relative to its base
    REPLACE = "replace"  # an explicit replace (never of an item in flight)
    INTERRUPTION = "interruption"  # an assistant item nothing of which was played
    ABANDON = "abandon"  # a never-started call after its response ended
