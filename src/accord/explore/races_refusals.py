"""Scenarios for the server's refusals (R23..R25 of docs/races.md).

A refusal is a race like the others: the server's answer to an operation depends on what
happened on the server before the operation arrived. Each scenario arms one refusal (or
another writer's delete) as a server action, so the explorer tries it at every point of
the schedule: before or after the operation it refuses was sent, while a response runs,
while a push waits for its acknowledgements.
"""

from __future__ import annotations

from accord.explore.scenario import (
    Actor,
    Scenario,
    World,
    add_item,
    assistant,
    call_running,
    finish_response,
    other_writer_deletes,
    push,
    refuse_next,
    remove,
    snapshot_as,
    start_response,
    tool_finished,
    turns,
    user,
)
from accord.items import ChatContext


def _append_n1(ctx: ChatContext) -> None:
    ctx.append(user("n1", "and one more thing"))


R23 = Scenario(
    "r23",
    "R23 A delete refused by a server error",
    "a policy trims u0; the server answers its delete with server_error as a reply streams",
    turns(4),
    (
        Actor("policy", (push("policy", remove("u0"), "trim u0"),)),
        Actor("server", (refuse_next("delete"),)),
        Actor(
            "reply",
            (start_response("r"), add_item(assistant("a9"), "r"), finish_response("r")),
        ),
    ),
    prepare=snapshot_as("policy"),
    min_schedules=150,
    naive_kinds=frozenset({"CONVERGENCE", "NO_LOST_ITEM"}),
)


def _call_running_policy_holding_it(w: World) -> None:
    call_running()(w)
    w.pair.settle()
    snapshot_as("policy")(w)


R24 = Scenario(
    "r24",
    "R24 A tool output refused by a server error",
    "the tool returns; the server answers the output's create with server_error while a "
    "policy trims the oldest turn",
    (user("u0"), assistant("a0"), user("u1")),
    (
        Actor("tool", (tool_finished("call_1", '{"temp": 18}'),)),
        Actor("server", (refuse_next("create_output"),)),
        Actor("policy", (push("policy", remove("u0", "a0"), "trim u0 a0"),)),
    ),
    prepare=_call_running_policy_holding_it,
    auto_reply=True,
    min_schedules=80,
    naive_kinds=frozenset({"OP_FAILED"}),
)

R25 = Scenario(
    "r25",
    "R25 A create whose anchor another writer deleted",
    "the app appends n1 after u1 while another writer deletes u1",
    (user("u0"), assistant("a0"), user("u1")),
    (
        Actor("app", (push("app", _append_n1, "append n1"),)),
        Actor("other", (other_writer_deletes("u1"),)),
    ),
    prepare=snapshot_as("app"),
    min_schedules=6,
    naive_kinds=frozenset({"CONVERGENCE", "OP_FAILED"}),
)

REFUSALS = (R23, R24, R25)
