"""The cached-token share of a long session: TokenBudget against the server truncating.

Why this is measured: a response whose prompt starts as the previous one did is billed
at the cached rate (``usage.input_token_details.cached_tokens``). When the server
truncates, it cuts the front of the conversation, so the cached prefix shrinks to the
instructions; ``retention_ratio`` cuts deeper so that it cuts less often, ``auto`` cuts
just enough and so cuts on nearly every turn. :class:`accord.policies.TokenBudget`
compacts on the client, rarely, before the server has to. This runs the same scripted
session three ways in the in-process simulator and reports
``sum(cached_tokens) / sum(input_tokens)`` over every ``response.done`` (the budget's
out-of-band summaries included), and how many items the server dropped itself.

Run: ``python -m accord.bench.budget_bench --turns 200`` (docs/truncation.md).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

from accord.agent import Agent
from accord.policies import TokenBudget
from accord.protocol.server_events import ResponseDone
from accord.session import RealtimeSession, SessionOptions
from accord.sim.config import SimConfig
from accord.sim.server import SimServer

INSTRUCTIONS = "You are a patient assistant. Answer briefly. " * 8
LIMIT = 1000  # the server's post_instructions limit
BUDGET = 800  # TokenBudget's max_tokens: under the limit by more than one turn
RATIO = 0.5


@dataclass(frozen=True, slots=True)
class Share:
    way: str
    turns: int
    input_tokens: int
    cached_tokens: int
    evicted: int  # items the server dropped by itself
    compactions: int

    @property
    def share(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0


def _truncation(way: str, limit: int, ratio: float) -> Any:
    if way == "auto":
        return "auto"
    return {
        "type": "retention_ratio",
        "retention_ratio": ratio,
        "token_limits": {"post_instructions": limit},
    }


async def run_way(
    way: str, turns: int, *, limit: int = LIMIT, budget: int = BUDGET, ratio: float = RATIO
) -> Share:
    """One session of ``turns`` typed turns; ``way``: "budget", "retention_ratio" or
    "auto" (budget and auto leave the server at ``truncation: auto`` with ``limit``)."""
    policy = TokenBudget(max_tokens=budget) if way == "budget" else None
    agent = Agent(instructions=INSTRUCTIONS, context_policy=policy)
    config = agent.session_config()
    config["truncation"] = _truncation("auto" if way == "budget" else way, limit, ratio)
    async with (
        SimServer(SimConfig(post_instructions_limit=limit)) as sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test-not-a-key",
            session=config,
            options=SessionOptions(seed=7),
        ) as session,
    ):
        runner = agent.start(session)
        try:
            for n in range(turns):
                await runner.say(f"Turn {n}: tell me something about the number {n}, please.")
                await runner.wait_idle(30.0)
        finally:
            await runner.aclose()
        server = sim.sessions[0]
        used = [
            e.response.usage
            for e in server.sent
            if isinstance(e, ResponseDone) and e.response.usage is not None
        ]
        return Share(
            way,
            turns,
            sum(int(u["input_tokens"]) for u in used),
            sum(int(u["input_token_details"]["cached_tokens"]) for u in used),
            len(server.store.evicted_ids()),
            policy.compactions if policy is not None else 0,
        )


async def measure(turns: int, **kwargs: Any) -> list[Share]:
    return [await run_way(way, turns, **kwargs) for way in ("budget", "retention_ratio", "auto")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--limit", type=int, default=LIMIT)
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--ratio", type=float, default=RATIO)
    args = parser.parse_args(argv)
    shares = asyncio.run(
        measure(args.turns, limit=args.limit, budget=args.budget, ratio=args.ratio)
    )
    print(
        f"{'way':<16} {'turns':>5} {'input':>9} {'cached':>9} {'share':>6} "
        f"{'evicted':>7} {'compactions':>11}"
    )
    for s in shares:
        print(
            f"{s.way:<16} {s.turns:>5} {s.input_tokens:>9} {s.cached_tokens:>9} "
            f"{s.share:>6.1%} {s.evicted:>7} {s.compactions:>11}"
        )


if __name__ == "__main__":
    main()
