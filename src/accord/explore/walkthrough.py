"""Race R1 played step by step for one strategy, for the interim `accord demo`.

One timeline from docs/races.md (R1, the original report): a function call arrives
while a context policy trims the oldest message. The same steps drive either strategy
through the engine + store pair; each step records what the client sent and what the
server then held, and the checker judges the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from accord.explore.timeline import describe_op
from accord.items import FunctionCall, Item, Message
from accord.verify.checker import Violation
from accord.verify.harness import Pair


@dataclass(frozen=True, slots=True)
class Step:
    actor: str  # "server", "policy", "tool", "wire"
    action: str
    sent: tuple[str, ...]  # client events sent during the step
    errors: tuple[str, ...]  # server errors the step produced
    server_ids: tuple[str, ...]


@dataclass
class Walkthrough:
    strategy: str
    steps: list[Step] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    mirror: list[Item] = field(default_factory=list)
    server: list[Item] = field(default_factory=list)


class _Narrator:
    def __init__(self, pair: Pair, on_step: Callable[[Step], None] | None) -> None:
        self.pair = pair
        self.result = Walkthrough(pair.strategy)
        self.on_step = on_step

    def step(self, actor: str, action: str, run: Callable[[], None]) -> None:
        """Run one step; record what went up the wire and what the server then holds."""
        errors_before = len(self.pair.errors)
        sent: list[str] = []
        self.pair.handle_hook = lambda op: sent.append(describe_op(op))
        run()
        self.pair.handle_hook = None
        errors = tuple(f"{e.code}: {e.message}" for e in self.pair.errors[errors_before:])
        step = Step(actor, action, tuple(sent), errors, tuple(self.pair.server_ids()))
        self.result.steps.append(step)
        if self.on_step:
            self.on_step(step)


def play_r1(strategy: str, on_step: Callable[[Step], None] | None = None) -> Walkthrough:
    """Play R1 with ``strategy`` ("accord" or "naive") and judge it."""
    p = Pair(strategy)
    p.auto_reply = lambda _pair, rid: [
        Message(id=f"reply_{rid}", role="assistant", content="Booked: table for four at 8.")
    ]
    n = _Narrator(p, on_step)
    turns = [
        Message(id="u0", role="user", content="Hi, I'd like to book a table."),
        Message(id="a0", role="assistant", content="Sure. For how many people?"),
        Message(id="u1", role="user", content="Four, tonight at eight."),
    ]

    def seed() -> None:
        ctx = p.snapshot()
        for item in turns:
            ctx.append(item)
        p.push(ctx)
        p.settle()

    n.step("client", "the conversation so far: u0 a0 u1", seed)
    agent_ctx = p.snapshot()  # the agent's context: it learns of calls when it runs them
    fc1 = FunctionCall(
        id="fc1", call_id="call_1", name="book_table", arguments='{"people": 4, "time": "20:00"}'
    )
    rid = ""

    def call_arrives() -> None:
        nonlocal rid
        rid = p.server_start()
        p.server_add(rid, fc1, done=False)
        p.deliver_down(len(p.down))

    n.step(
        "server", "a response starts; function call fc1 is added (still streaming)", call_arrives
    )

    def trim() -> None:
        trimmed = agent_ctx.copy()
        trimmed.remove("u0")
        p.push(trimmed)
        p.settle()

    n.step("policy", "keep-last-turns pushes the agent's context minus u0", trim)

    def call_done() -> None:
        p.server_stream(fc1, done=True)
        p.server_finish(rid)
        p.settle()

    n.step("server", "fc1's arguments are complete; response.done", call_done)

    def tool_runs() -> None:
        p.tool_started("call_1")
        p.tool_finished("call_1", '{"booked": true, "table": 7}')
        p.settle()

    n.step("tool", "book_table runs and returns; its output goes to the server", tool_runs)
    n.result.mirror = p.client.mirror_items()
    n.result.server = p.store.items()
    n.result.violations = p.violations()
    return n.result
