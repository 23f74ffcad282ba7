"""The edit generator of the diff benchmark (the foundation issue's workload).

For ``n`` items: each is deleted with probability ``delete_p``, ``n // 20`` new ids are
inserted at random places and ``n // 50`` survivors get new content, all from a fixed
seed, so every run and every implementation measures the same edit.

``moves`` (0 by default, the foundation workload) additionally moves that many
survivors to random places. The default edit keeps the survivors in order, which lets
``compute_diff`` skip its longest-increasing-subsequence step; a few moves force that
step, so the comparison can be made on both of its paths.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from accord.items import ChatContext, Item, Message, Role


@dataclass(frozen=True, slots=True)
class EditCase:
    n: int
    old: ChatContext
    new: ChatContext


def make_edit_case(n: int, *, seed: int = 0, delete_p: float = 0.5, moves: int = 0) -> EditCase:
    rng = random.Random(seed)
    roles: tuple[Role, Role] = ("user", "assistant")
    old_items: list[Item] = [
        Message(id=f"item_{i}", role=roles[i % 2], content=f"turn {i}") for i in range(n)
    ]
    survivors: list[Item] = [it for it in old_items if rng.random() >= delete_p]
    for k in rng.sample(range(len(survivors)), min(n // 50, len(survivors))):
        old = survivors[k]
        assert isinstance(old, Message)
        survivors[k] = Message(id=old.id, role=old.role, content=f"{old.text} (edited)")
    for j in range(n // 20):
        at = rng.randrange(len(survivors) + 1)
        survivors.insert(at, Message(id=f"new_{j}", role="user", content=f"inserted {j}"))
    if moves and survivors:
        # A separate generator: the default workload's random sequence stays as it was.
        mover = random.Random(seed + 1)
        for _ in range(moves):
            item = survivors.pop(mover.randrange(len(survivors)))
            survivors.insert(mover.randrange(len(survivors) + 1), item)
    return EditCase(n=n, old=ChatContext(old_items), new=ChatContext(survivors))
