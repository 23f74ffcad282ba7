"""Scenarios for races R1..R11 of docs/races.md.

Each scenario keeps the race's ingredients and lets the explorer order them: the server's
actions, the writers' pushes, the tools, the barge-in and the two channels. The scripted
tests (tests/test_races_early.py) pin one schedule each; these cover every schedule up
to the explorer's depth.
"""

from __future__ import annotations

from dataclasses import replace

from accord.explore.scenario import (
    Actor,
    Scenario,
    World,
    add_item,
    assistant,
    call,
    call_running,
    disconnect,
    finish_response,
    interrupt,
    is_output,
    push,
    remove,
    snapshot_as,
    spoken_turn,
    start_response,
    stream,
    summarize_u0_a0_u1,
    summary,
    tool_finished,
    tool_runs,
    transcript,
    turns,
    user,
    user_audio,
)
from accord.items import ChatContext, FunctionCallOutput

R1 = Scenario(
    "r1",
    "R1 In-flight function call",
    "a policy pushes the agent's context minus u0 while fc1 streams in",
    turns(4),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(call("fc1", "call_1", "book_table"), done=False),
                stream(call("fc1", "call_1", "book_table", '{"people": 4}')),
                finish_response(),
            ),
        ),
        Actor("policy", (push("agent", remove("u0"), "minus u0"),)),
        Actor("tool", tool_runs("call_1", '{"booked": true}')),
    ),
    prepare=snapshot_as("agent"),  # the agent learns of calls when it dispatches them
    min_schedules=60,
    naive_kinds=frozenset({"NO_LOST_ITEM", "OP_FAILED"}),
)

R2 = Scenario(
    "r2",
    "R2 Stale snapshot",
    "a summarizer pushes [s a1 u2 a2] from a snapshot older than u3 a3 fc4",
    turns(6),
    (
        Actor(
            "server",
            (
                user_audio("u3"),
                transcript("u3", "and what about tomorrow?"),
                start_response(),
                add_item(assistant("a3")),
                add_item(call("fc4", "call_4", "forecast")),
                finish_response(),
            ),
        ),
        Actor("summarizer", (push("summarizer", summarize_u0_a0_u1, "s replaces u0 a0 u1"),)),
        Actor("tool", tool_runs("call_4", '{"sky": "clear"}')),
    ),
    prepare=snapshot_as("summarizer"),
    min_schedules=250,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)

R3 = Scenario(
    "r3",
    "R3 Streaming last item",
    "a push whose base predates a4 arrives while a4 streams",
    turns(3),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(assistant("a4", ""), done=False),
                stream(assistant("a4", "It will be"), done=False),
                stream(assistant("a4", "It will be sunny.")),
                finish_response(),
            ),
        ),
        Actor("policy", (push("policy", remove("u0"), "minus u0"),)),
    ),
    prepare=snapshot_as("policy"),
    min_schedules=80,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)


def _truncate(ctx: ChatContext) -> None:
    ctx.remove("u0")
    ctx.remove("a0")


def _summarize_middle(ctx: ChatContext) -> None:
    ctx.remove("u1")
    ctx.remove("a1")
    ctx.insert_after("a0", summary())


R4 = Scenario(
    "r4",
    "R4 Lost update (two writers)",
    "truncation and summarization push concurrently from the same base",
    (*turns(4), user("u2")),
    (
        Actor("truncation", (push("base", _truncate, "minus u0 a0"),)),
        Actor("summarization", (push("base", _summarize_middle, "s replaces u1 a1"),)),
    ),
    prepare=snapshot_as("base"),
    min_schedules=40,
    naive_kinds=frozenset({"CONVERGENCE"}),
)


def _note(ctx: ChatContext) -> None:
    ctx.insert_after("a3", user("x", "the user is in a hurry"))


R5 = Scenario(
    "r5",
    "R5 Delete racing an anchored create",
    "one push deletes a3 while another creates x after a3",
    (user("u0"), assistant("a0"), user("u3"), assistant("a3")),
    (
        Actor("trimmer", (push("base", remove("a3"), "minus a3"),)),
        Actor("noter", (push("base", _note, "x after a3"),)),
    ),
    prepare=snapshot_as("base"),
    min_schedules=6,
    naive_kinds=frozenset({"NO_DANGLING_ANCHOR", "OP_FAILED"}),
)

R6 = Scenario(
    "r6",
    "R6 Late insert anchored on a deleted item",
    "the server announces a4 after a3 although it already deleted a3",
    (user("u0"), assistant("a0"), user("u3"), assistant("a3")),
    (
        Actor(
            "server",
            (start_response(), add_item(assistant("a4"), after="a3"), finish_response()),
        ),
        Actor("policy", (push("policy", remove("a3"), "minus a3"),)),
    ),
    prepare=snapshot_as("policy"),
    min_schedules=30,
    naive_kinds=frozenset({"CONVERGENCE"}),
)


R7 = Scenario(
    "r7",
    "R7 Output before its call is on the server",
    "the socket drops while book_table runs; it returns during the restore",
    (user("u0"), assistant("a0")),
    (
        Actor("wire", (disconnect(),)),
        Actor("tool", (tool_finished("call_1", '{"table": 7}'),)),
    ),
    prepare=call_running("book_table"),
    auto_reply=True,
    min_schedules=55,
    naive_kinds=frozenset({"PAIRS"}),
)


def _summarize_head(ctx: ChatContext) -> None:
    ctx.remove("u0")
    ctx.insert_after(None, summary())


R8 = Scenario(
    "r8",
    "R8 Disconnect mid-push",
    "the socket drops while delete(u0) and create(s) are on the wire",
    turns(4),
    (
        Actor("policy", (push("policy", _summarize_head, "s replaces u0"),)),
        Actor("wire", (disconnect(),)),
    ),
    prepare=snapshot_as("policy"),
    min_schedules=45,
    naive_kinds=frozenset({"RESOLVES_ONCE"}),
)

_SPOKEN = assistant("a5", "Your flight leaves at nine from gate twelve", audio_ms=4000)


def _a5_playing(w: World) -> None:
    rid = w.pair.server_start()
    w.vars["r"] = rid
    w.pair.server_add(rid, _SPOKEN, done=False)
    w.pair.settle()
    w.vars["policy"] = w.pair.snapshot()  # a5 as it was before the barge-in


R9 = Scenario(
    "r9",
    "R9 Truncate during a push",
    "barge-in truncates a5 while a push from an older snapshot holds a5 whole",
    (user("u0"), assistant("a0"), user("u5")),
    (
        Actor("user", (interrupt("a5", 1000),)),
        Actor("policy", (push("policy", remove("u0"), "minus u0"),)),
        Actor("server", (stream(_SPOKEN, done=True), finish_response())),
    ),
    prepare=_a5_playing,
    min_schedules=430,
    naive_kinds=frozenset({"CONVERGENCE", "OP_FAILED"}),
)


def _pii_on_server(w: World) -> None:
    rid = w.pair.server_start()
    w.pair.server_add(rid, call("fc1", "call_1", "lookup_customer"))
    w.pair.server_finish(rid)
    w.pair.settle()
    w.pair.tool_started("call_1")
    w.pair.tool_finished("call_1", '{"ssn": "123-45-6789"}')
    w.pair.settle()
    w.vars["policy"] = w.pair.snapshot()


def _redact(ctx: ChatContext) -> None:
    pii = next(item for item in ctx if is_output(item, "call_1"))
    assert isinstance(pii, FunctionCallOutput)
    ctx.replace(replace(pii, output='{"ssn": "[redacted]"}'))


def _no_pii(w: World) -> list[tuple[str, str | None, str]]:
    return [
        ("PII_KEPT", item.id, "the unredacted tool output is still on the server")
        for item in w.pair.store.items()
        if isinstance(item, FunctionCallOutput) and "123-45" in item.output
    ]


R10 = Scenario(
    "r10",
    "R10 Content change of a call or output",
    "a redaction policy rewrites a tool output while the user's next turn arrives",
    (user("u0"),),
    (
        Actor("policy", (push("policy", _redact, "the ssn redacted"),)),
        Actor("server", spoken_turn("u2", "thanks", assistant("a2"))),
    ),
    prepare=_pii_on_server,
    check=_no_pii,
    min_schedules=160,
    naive_kinds=frozenset({"PII_KEPT"}),
)


def _trim_head(ctx: ChatContext) -> None:
    ctx.remove("u0")
    ctx.remove("a0")


R11 = Scenario(
    "r11",
    "R11 Voice turn, transcript later",
    "a push whose base lacks u5 runs while u5 waits for its transcript",
    turns(4),
    (
        Actor(
            "server",
            (
                user_audio("u5"),
                start_response(),
                add_item(assistant("a5", "Sure,"), done=False),
                transcript("u5", "book me a table for two"),
                stream(assistant("a5", "Sure, for what time?")),
                finish_response(),
            ),
        ),
        Actor("policy", (push("policy", _trim_head, "minus u0 a0"),)),
    ),
    prepare=snapshot_as("policy"),
    min_schedules=150,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)

EARLY = (R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11)
