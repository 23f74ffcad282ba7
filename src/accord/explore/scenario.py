"""Scenarios for the explorer: a seeded conversation and actors that each run a script.

A race of docs/races.md is a few local actions (a policy pushes, a tool finishes, the
server starts a response) whose relative order, and the order in which the two channels
move, decides whether anything is lost. A :class:`Scenario` names the actions and leaves
the order open: each :class:`Actor` runs its :class:`Action` list in sequence, an action
may wait for a condition (a tool starts only once its call is ready), and the explorer
decides at every step which actor acts or which channel delivers its next event.

Each action says which side it belongs to. The explorer's state hashing relies on it:
the client and the server are deterministic, so two schedules that gave each side the
same inputs in the same order reach the same state (see :mod:`accord.explore.explorer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.verify.harness import SERVER_ERROR, Pair, RefusedKind

Side = Literal["client", "server", "both"]
#: What a scenario's own check found: (kind, item id, detail).
Problems = list[tuple[str, str | None, str]]


@dataclass
class World:
    """One run of a scenario: the pair plus what the actors remember (snapshots, ids)."""

    pair: Pair
    vars: dict[str, Any] = field(default_factory=dict)

    def ctx(self, name: str) -> ChatContext:
        value = self.vars[name]
        if not isinstance(value, ChatContext):
            raise TypeError(f"{name!r} holds {type(value).__name__}, not a context")
        return value

    def rid(self, name: str) -> str:
        return str(self.vars[name])

    def call_ready(self, call_id: str) -> bool:
        return any(c.call_id == call_id for c in self.pair.ready_calls)

    def tool_reported(self, call_id: str, event: str) -> bool:
        return any(r.call_id == call_id and r.event == event for r in self.pair.log.tool_reports)


def _always(_world: World) -> bool:
    return True


@dataclass(frozen=True)
class Action:
    """One step of an actor's script."""

    label: str
    run: Callable[[World], None]
    side: Side = "client"
    ready: Callable[[World], bool] = _always


@dataclass(frozen=True)
class Actor:
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Scenario:
    """A race as a seeded conversation and concurrent actors.

    ``naive_kinds`` are the findings through which the race's naive failure shows (the
    invariant or observable failure the catalogue describes); the suite asserts that the
    explorer finds each of them with the naive strategy, and never a finding with accord.
    ``min_schedules`` is a floor on the schedules the suite's exhaustive exploration (at
    ``library.SUITE_DEPTH``) completes: schedules whose prefixes reach distinct states, so
    that a broken explorer cannot pass by exploring nothing.
    """

    name: str
    race: str
    summary: str
    seed: tuple[Item, ...]
    actors: tuple[Actor, ...]
    naive_kinds: frozenset[str] = frozenset()  # the findings the race names for naive
    auto_reply: bool = False
    min_schedules: int = 10
    prepare: Callable[[World], None] | None = None  # settled before the actors start
    server_vad: bool = False  # the client configured server VAD (R21)
    # What the race breaks that no invariant names (a response that saw a half-applied
    # edit): problems as (kind, item id, detail).
    check: Callable[[World], list[tuple[str, str | None, str]]] | None = None

    @property
    def naive_fails(self) -> bool:
        return bool(self.naive_kinds)

    def world(self, strategy: str, *, seed: int = 0) -> World:
        """A fresh pair holding the seeded conversation, acknowledged and quiet."""
        p = Pair(
            strategy,
            seed=seed,
            auto_reply=_reply if self.auto_reply else None,
            server_vad=self.server_vad,
        )
        ctx = p.snapshot()
        for item in self.seed:
            ctx.append(item)
        if self.seed:
            p.push(ctx)
            p.settle()
        w = World(p)
        if self.prepare is not None:
            self.prepare(w)
            p.settle()
        return w


def _reply(p: Pair, rid: str) -> list[Item]:
    """The server's answer to a client ``response.create``: one assistant message."""
    return [Message(id=f"a_{rid}", role="assistant", content=f"answer of {rid}")]


# -- preparations: what holds before the actors start -----------------------------------


def snapshot_as(name: str) -> Callable[[World], None]:
    """A writer already holds a snapshot of the seeded conversation, under ``name``."""

    def prepare(w: World) -> None:
        w.vars[name] = w.pair.snapshot()

    return prepare


def call_running(name: str = "lookup") -> Callable[[World], None]:
    """A response emitted fc1 (``call_1``) and ended; its tool has started."""

    def prepare(w: World) -> None:
        rid = w.pair.server_start()
        w.pair.server_add(rid, call("fc1", "call_1", name))
        w.pair.server_finish(rid)
        w.pair.settle()
        w.pair.tool_started("call_1")

    return prepare


# -- items -----------------------------------------------------------------------------


def user(item_id: str, text: str = "") -> Message:
    return Message(id=item_id, role="user", content=text or f"user says {item_id}")


def assistant(item_id: str, text: str | None = None, *, audio_ms: int | None = None) -> Message:
    content = f"assistant says {item_id}" if text is None else text
    return Message(
        id=item_id, role="assistant", content=content, audio=audio_ms is not None, audio_ms=audio_ms
    )


def summary(item_id: str = "s") -> Message:
    return Message(id=item_id, role="system", content="summary of the earlier turns")


def summarize_u0_a0_u1(ctx: ChatContext) -> None:
    """A summarizer's edit: the summary ``s`` replaces the three oldest items."""
    for item_id in ("u0", "a0", "u1"):
        ctx.remove(item_id)
    ctx.insert_after(None, summary())


def call(item_id: str, call_id: str, name: str = "lookup", arguments: str = "{}") -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name=name, arguments=arguments)


def turns(n: int) -> tuple[Item, ...]:
    """u0 a0 u1 a1 ... : ``n`` alternating user and assistant messages."""
    return tuple(user(f"u{i // 2}") if i % 2 == 0 else assistant(f"a{i // 2}") for i in range(n))


# -- actions: the server -----------------------------------------------------------------


def start_response(var: str = "r") -> Action:
    def run(w: World) -> None:
        w.vars[var] = w.pair.server_start()

    return Action(f"response.created ({var})", run, "server", lambda w: w.pair.active is None)


def add_item(item: Item, var: str = "r", *, done: bool = True, after: str | None = None) -> Action:
    what = "added" if done else "added, still streaming"
    where = "" if after is None else f" announced after {after}"

    def run(w: World) -> None:
        w.pair.server_add(w.rid(var), item, done=done, after=after)

    return Action(f"{item.id} {what}{where}", run, "server")


def stream(item: Item, *, done: bool = True) -> Action:
    def run(w: World) -> None:
        w.pair.server_stream(item, done=done)

    return Action(f"{item.id} streams{' to its end' if done else ''}", run, "server")


def finish_response(var: str = "r", status: str = "completed") -> Action:
    def run(w: World) -> None:
        rid = w.rid(var)
        if w.pair.active is not None and w.pair.active.response_id == rid:
            w.pair.server_finish(rid, status)  # type: ignore[arg-type]

    return Action(f"response.done ({var}, {status})", run, "server")


def user_audio(item_id: str) -> Action:
    def run(w: World) -> None:
        w.pair.server_user_audio(item_id)

    return Action(f"VAD commits user audio {item_id}", run, "server")


def transcript(item_id: str, text: str | None) -> Action:
    def run(w: World) -> None:
        if w.pair.store.record(item_id) is not None:
            w.pair.server_transcript(item_id, text)

    return Action(f"transcript of {item_id} arrives", run, "server")


def spoken_turn(user_id: str, text: str, reply: Item, var: str = "r") -> tuple[Action, ...]:
    """The user speaks (VAD commits the audio, its transcript follows) and the server
    answers with one item."""
    return (
        user_audio(user_id),
        transcript(user_id, text),
        start_response(var),
        add_item(reply, var),
        finish_response(var),
    )


def refuse_next(kind: RefusedKind, code: str = SERVER_ERROR) -> Action:
    """From now on the server answers the next client op of ``kind`` with an error
    instead of doing it (``server_error``: the transient refusal, to be sent again)."""

    def run(w: World) -> None:
        w.pair.refuse_next(kind, code)

    return Action(f"the server will refuse the next {kind} ({code})", run, "server")


def other_writer_deletes(item_id: str) -> Action:
    """Another writer on the same conversation deletes an item it saw."""

    def run(w: World) -> None:
        if w.pair.store.get(item_id) is not None:
            w.pair.other_writer_deletes(item_id)

    return Action(f"another writer deletes {item_id}", run, "server")


# -- actions: the client -----------------------------------------------------------------


def snapshot(var: str) -> Action:
    def run(w: World) -> None:
        w.vars[var] = w.pair.snapshot()

    return Action(f"{var} takes a snapshot", run)


def push(var: str, edit: Callable[[ChatContext], None], what: str) -> Action:
    """Push the snapshot in ``var`` after ``edit`` (the writer's own change)."""

    def run(w: World) -> None:
        ctx = w.ctx(var).copy()
        edit(ctx)
        w.pair.push(ctx)

    return Action(f"{var} pushes: {what}", run)


def remove(*item_ids: str) -> Callable[[ChatContext], None]:
    def edit(ctx: ChatContext) -> None:
        for item_id in item_ids:
            ctx.remove(item_id)

    return edit


def tool_started(call_id: str) -> Action:
    def run(w: World) -> None:
        w.pair.tool_started(call_id)

    return Action(f"tool {call_id} starts", run, ready=lambda w: w.call_ready(call_id))


def tool_finished(call_id: str, output: str = '{"ok": true}') -> Action:
    def run(w: World) -> None:
        w.pair.tool_finished(call_id, output)

    return Action(f"tool {call_id} returns", run, ready=lambda w: w.call_ready(call_id))


def tool_abandoned(call_id: str) -> Action:
    """The runner gives the call up (a timeout, a barge-in): accord answers a started call
    with an error output and deletes a never-started one."""

    def run(w: World) -> None:
        w.pair.tool_abandoned(call_id)

    return Action(f"tool {call_id} is abandoned", run, ready=lambda w: w.call_ready(call_id))


def tool_runs(call_id: str, output: str = '{"ok": true}') -> tuple[Action, Action]:
    return tool_started(call_id), tool_finished(call_id, output)


def generate_reply(label: str = "the agent asks for a reply", **kwargs: Any) -> Action:
    def run(w: World) -> None:
        w.pair.generate_reply(**kwargs)

    return Action(label, run)


def interrupt(item_id: str, played_ms: int) -> Action:
    def run(w: World) -> None:
        w.pair.interrupt(item_id, played_ms=played_ms)

    def ready(w: World) -> bool:
        # The client has seen the item: it is in the mirror, or a push already deleted it
        # (the barge-in then targets an item the server no longer has: R15).
        if any(i.id == item_id for i in w.pair.client.mirror_items()):
            return True
        rec = w.pair.store.record(item_id)
        return rec is not None and not rec.alive

    return Action(f"barge-in: {item_id} heard for {played_ms} ms", run, ready=ready)


def disconnect() -> Action:
    """The socket drops; the client reconnects at once and restores (judged when done)."""

    def run(w: World) -> None:
        w.pair.drop()
        w.pair.reconnect(settle=False)

    return Action("the socket drops; reconnect and restore", run, "both")


def is_output(item: Item, call_id: str) -> bool:
    return isinstance(item, FunctionCallOutput) and item.call_id == call_id
