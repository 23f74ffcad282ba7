"""Race R1 played step by step on the store, for the interim `accord demo`.

One timeline from shared/RACES.md (R1, the original report): a function call arrives
while a context policy trims the oldest message. Each step is applied to the reference
store and the client's mirror and described in words; the checker judges the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from accord.explore.checker import Violation, check_quiet
from accord.explore.log import CheckLog, DeleteReason, OpRecord, PushRecord, Resolution
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.naive import NaiveCreate, NaiveDelete, naive_push
from accord.sim.errors import ServerError
from accord.sim.store import Added, ConversationStore


@dataclass(frozen=True, slots=True)
class Step:
    actor: str  # "server", "client", "policy", "tool"
    action: str
    outcome: str
    server_ids: tuple[str, ...]
    error: bool = False


@dataclass
class Walkthrough:
    strategy: str
    steps: list[Step] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    mirror: list[Item] = field(default_factory=list)
    server: list[Item] = field(default_factory=list)


class _Stage:
    """The store, the naive client's mirror and the log, with narrated operations."""

    def __init__(self, strategy: str, on_step: Callable[[Step], None] | None) -> None:
        self.store = ConversationStore()
        self.log = CheckLog()
        self.mirror: list[Item] = []
        self.result = Walkthrough(strategy)
        self._on_step = on_step
        self._events = 0

    def say(self, actor: str, action: str, outcome: str, *, error: bool = False) -> None:
        step = Step(actor, action, outcome, tuple(self.store.ids()), error)
        self.result.steps.append(step)
        if self._on_step:
            self._on_step(step)

    def next_event_id(self) -> str:
        self._events += 1
        return f"evt_{self._events}"

    def mirror_added(self, added: Added) -> None:
        """The naive mirror: place after the reported predecessor, drop when unknown."""
        ids = [i.id for i in self.mirror]
        prev = added.previous_item_id
        if prev is None:
            self.mirror.insert(0, added.item)
        elif prev in ids:
            self.mirror.insert(ids.index(prev) + 1, added.item)

    def client_create(self, item: Item, prev: str | None, push_id: str | None) -> None:
        event_id = self.next_event_id()
        self.log.op(
            OpRecord(event_id, "create", self.store.transitions, item_id=item.id, push_id=push_id)
        )
        outcome = self.store.create(item, prev, event_id=event_id)
        where = "at the end" if prev is None else f"after {prev}"
        if isinstance(outcome, ServerError):
            self.log.resolve(Resolution(event_id, "error", code=outcome.code))
            self.say(
                "client",
                f"create {item.id} {where}",
                f"error {outcome.code}: {outcome.message}",
                error=True,
            )
        else:
            self.log.resolve(Resolution(event_id, "success"))
            self.mirror_added(outcome)
            self.say("client", f"create {item.id} {where}", "conversation.item.added")

    def client_delete(self, item_id: str, push_id: str) -> None:
        event_id = self.next_event_id()
        self.log.op(
            OpRecord(
                event_id,
                "delete",
                self.store.transitions,
                item_id=item_id,
                push_id=push_id,
                reason=DeleteReason.PUSH,
            )
        )
        in_flight = self.store.is_in_flight(item_id)
        outcome = self.store.delete(item_id, event_id=event_id)
        if isinstance(outcome, ServerError):
            self.log.resolve(Resolution(event_id, "error", code=outcome.code))
            self.say("client", f"delete {item_id}", f"error {outcome.code}", error=True)
            return
        self.log.resolve(Resolution(event_id, "success"))
        self.mirror = [i for i in self.mirror if i.id != item_id]
        note = " (it was in flight: its response is still running)" if in_flight else ""
        self.say(
            "client", f"delete {item_id}", f"conversation.item.deleted{note}", error=bool(note)
        )


def play_r1(strategy: str = "naive", on_step: Callable[[Step], None] | None = None) -> Walkthrough:
    """Play R1 with ``strategy`` (only "naive" until the sync engine exists)."""
    if strategy != "naive":
        raise ValueError(f"unknown or unbuilt strategy {strategy!r}")
    st = _Stage(strategy, on_step)
    u0 = Message(id="u0", role="user", content="Hi, I'd like to book a table.")
    a0 = Message(id="a0", role="assistant", content="Sure. For how many people?")
    u1 = Message(id="u1", role="user", content="Four, tonight at eight.")
    for item in (u0, a0, u1):
        st.client_create(item, None, None)
    agent_ctx: list[Item] = list(st.mirror)
    base = tuple(agent_ctx)

    fc1 = FunctionCall(
        id="fc1", call_id="call_1", name="book_table", arguments='{"people": 4, "time": "20:00"}'
    )
    st.mirror_added(st.store.add_output_item(fc1, "resp_1"))
    st.say(
        "server",
        "response.created; output_item.added(fc1); conversation.item.added(fc1)",
        "the mirror has fc1; the agent's context does not yet (it learns at dispatch)",
    )

    pushed = [i for i in agent_ctx if i.id != "u0"]
    st.log.push(
        PushRecord("trim", base, tuple(pushed), st.store.transitions, current=tuple(agent_ctx))
    )
    ops = naive_push(st.mirror, pushed)
    st.say(
        "policy",
        "keep-last-turns pushes the agent's context minus u0",
        "naive diff(mirror, pushed) = " + ", ".join(_describe(op) for op in ops),
    )
    _apply_naive(st, ops, "trim")

    st.store.finish_response("resp_1")
    st.say("server", "response.done(resp_1)", "the call is complete; the tool runs")
    out1 = FunctionCallOutput(id="out1", call_id="call_1", output='{"booked": true}')
    st.client_create(out1, None, None)
    u2 = Message(id="u2", role="user", content="Thanks!")
    st.client_create(u2, "fc1", None)

    st.result.mirror = list(st.mirror)
    st.result.server = st.store.items()
    st.result.violations = check_quiet(st.store, st.log, st.mirror)
    return st.result


def _describe(op: NaiveCreate | NaiveDelete) -> str:
    if isinstance(op, NaiveDelete):
        return f"delete {op.item_id}"
    return f"create {op.item.id} after {op.previous_item_id}"


def _apply_naive(st: _Stage, ops: Sequence[NaiveCreate | NaiveDelete], push_id: str) -> None:
    for op in ops:
        if isinstance(op, NaiveDelete):
            st.client_delete(op.item_id, push_id)
        else:
            st.client_create(op.item, op.previous_item_id, push_id)
