"""Scenarios for the current Realtime API (R26..R30 of docs/races.md, issue 18).

gpt-realtime-2.x answers with several output items at once (a spoken preamble and a
function call that overlap, or two parallel calls); the server drops old items by itself
when the conversation outgrows ``session.truncation``; an out-of-band summary runs beside
the conversation while the user goes on. Each is a race of the old kind, a writer acting
on a copy that is already stale, with a new way for the copy to go stale.
"""

from __future__ import annotations

from accord.engine import events as ev
from accord.explore.scenario import (
    Action,
    Actor,
    Problems,
    Scenario,
    World,
    add_item,
    assistant,
    call,
    finish_response,
    generate_reply,
    push,
    remove,
    snapshot_as,
    spoken_turn,
    start_response,
    stream,
    summarize_u0_a0_u1,
    tool_runs,
    turns,
)
from accord.items import McpCall, Message
from accord.truncation import Truncation


def _preamble(text: str) -> Message:
    return Message(id="pre1", role="assistant", content=text)


R26 = Scenario(
    "r26",
    "R26 A push during a multi-item response",
    "a policy trims u0 from a snapshot taken before pre1 and fc1 overlap in one response",
    turns(4),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(_preamble(""), done=False),
                add_item(call("fc1", "call_1", "book_table"), done=False, after="pre1"),
                stream(_preamble("Let me book that.")),
                stream(call("fc1", "call_1", "book_table", '{"people": 2}')),
                finish_response(),
            ),
        ),
        Actor("policy", (push("agent", remove("u0"), "minus u0"),)),
        Actor("tool", tool_runs("call_1", '{"booked": true}')),
    ),
    prepare=snapshot_as("agent"),
    min_schedules=90,
    naive_kinds=frozenset({"NO_LOST_ITEM", "OP_FAILED"}),
)


def _one_follow_up(w: World) -> Problems:
    """Each call of the parallel batch has one output, and one follow-up answers both."""
    replies = [i.id for i in w.pair.store.items() if i.id.startswith("a_resp")]
    problems: Problems = []
    if len(replies) > 1:
        problems.append(("DUPLICATE_REPLY", replies[1], f"{len(replies)} follow-ups"))
    requested = len(w.pair.known_at_send)  # every response.create sent (none by the app)
    if requested > 1:
        problems.append(("DUPLICATE_REPLY", None, f"{requested} follow-ups requested"))
    return problems


R27 = Scenario(
    "r27",
    "R27 A push while two parallel calls run",
    "one response emits fc1 and fc2; both tools run while a stale snapshot minus u0 lands",
    turns(4),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(call("fc1", "call_1", "get_weather")),
                add_item(call("fc2", "call_2", "get_time")),
                finish_response(),
            ),
        ),
        Actor("policy", (push("agent", remove("u0"), "minus u0"),)),
        Actor("weather", tool_runs("call_1", '{"temp": 18}')),
        Actor("clock", tool_runs("call_2", '{"time": "20:00"}')),
    ),
    prepare=snapshot_as("agent"),
    auto_reply=True,
    check=_one_follow_up,
    min_schedules=70,
    naive_kinds=frozenset({"NO_LOST_ITEM", "DUPLICATE_REPLY"}),
)

# A limit the seeded conversation nearly fills: a response makes the server cut.
_TIGHT = Truncation("retention_ratio", limit=40, retention_ratio=0.5)


_DROPPED = ("u0", "a0")


def _tight_window(w: World) -> None:
    w.pair.client.set_truncation(_TIGHT)
    w.vars["policy"] = w.pair.snapshot()
    naming: list[str] = []
    w.vars["names_dropped_after_cut"] = naming

    def watch(op: ev.ClientOp) -> None:
        # An op sent once the client has read the response that made the server cut,
        # naming an item the cut dropped: accord doubts the oldest items at that
        # response.created and asks (retrieve) before anything names them.
        seen_cut = "r" in w.vars and w.rid("r") in w.pair.known_responses
        named = (
            op.item_id
            if isinstance(op, ev.DeleteItem | ev.TruncateItem)
            else op.previous_item_id
            if isinstance(op, ev.CreateItem)
            else None
        )
        if seen_cut and named in _DROPPED:
            naming.append(f"{type(op).__name__} {named}")

    w.pair.handle_hook = watch


def _nothing_names_a_dropped_item(w: World) -> Problems:
    named: list[str] = w.vars.get("names_dropped_after_cut", [])
    return [("NAMES_DROPPED_ITEM", None, f"{op} sent after the cut was seen") for op in named]


def _truncating_response() -> Action:
    """A response starts and the server drops the two oldest items to make room, saying
    nothing (the real server sends no ``conversation.item.deleted`` for them)."""

    def run(w: World) -> None:
        w.pair.store.evict(list(_DROPPED))
        w.vars["r"] = w.pair.server_start()

    return Action(
        "response.created; the server drops u0 a0 silently",
        run,
        "server",
        lambda w: w.pair.active is None,
    )


R28 = Scenario(
    "r28",
    "R28 The server truncates while a push is in flight",
    "a summarizer replaces u0 a0 u1 as the server silently drops u0 a0 for a new response",
    turns(6),
    (
        Actor(
            "server",
            (_truncating_response(), add_item(assistant("a9")), finish_response()),
        ),
        Actor("summarizer", (push("policy", summarize_u0_a0_u1, "s replaces u0 a0 u1"),)),
    ),
    prepare=_tight_window,
    check=_nothing_names_a_dropped_item,
    min_schedules=400,
    naive_kinds=frozenset({"OP_FAILED", "NAMES_DROPPED_ITEM"}),
)


def _oob_summary_base(w: World) -> None:
    w.vars["summarizer"] = w.pair.snapshot()


R29 = Scenario(
    "r29",
    "R29 An out-of-band summary racing a user turn",
    "a summary of u0 a0 u1 is asked out of band; the user speaks u3 before its push lands",
    turns(6),
    (
        Actor(
            "summarizer",
            (
                generate_reply(
                    "summarizer asks out of band over u0 a0 u1",
                    out_of_band=True,
                    metadata={"purpose": "summary"},
                    input_items=("u0", "a0", "u1"),
                ),
                push("summarizer", summarize_u0_a0_u1, "s replaces u0 a0 u1"),
            ),
        ),
        Actor(
            "user",
            spoken_turn("u3", "and a table for four?", assistant("a3")),
        ),
    ),
    prepare=_oob_summary_base,
    min_schedules=500,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)


def _mcp_call(output: str | None = None) -> McpCall:
    arguments = '{"text": "hi"}' if output is not None else '{"te'
    return McpCall(id="mc1", server_label="docs", name="echo", arguments=arguments, output=output)


R30 = Scenario(
    "r30",
    "R30 An MCP call in flight during a push",
    "the server runs mc1 (an MCP tool) while a policy trims u0 from a snapshot without it",
    turns(4),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(_mcp_call(), done=False),
                stream(_mcp_call('{"text": "hi"}'), done=True),
                add_item(assistant("a9")),
                finish_response(),
            ),
        ),
        Actor("policy", (push("agent", remove("u0"), "minus u0"),)),
    ),
    prepare=snapshot_as("agent"),
    min_schedules=20,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)

CURRENT = (R26, R27, R28, R29, R30)
