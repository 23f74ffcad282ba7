"""Scenarios for races R12..R22 of docs/races.md (see :mod:`accord.explore.races_early`).

Some of these races fail in ways no invariant of the conversation names (a response that
saw a half-applied edit, one that saw a half-restored conversation); their scenarios
carry a ``check`` that reports it, so the explorer can tell the naive strategy's failure
from accord's behaviour in every schedule.
"""

from __future__ import annotations

from dataclasses import replace

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
    call_running,
    disconnect,
    finish_response,
    generate_reply,
    interrupt,
    push,
    remove,
    snapshot,
    snapshot_as,
    spoken_turn,
    start_response,
    stream,
    tool_abandoned,
    tool_finished,
    tool_runs,
    tool_started,
    transcript,
    turns,
    user,
    user_audio,
)
from accord.items import ChatContext, Message


def _with_note(w: World) -> None:
    local = w.pair.snapshot()
    local.append(Message(id="note", role="system", content="Answer in one sentence."))
    w.vars["local"] = local


R12 = Scenario(
    "r12",
    "R12 Local-only tail",
    "the agent's context ends with a local note when the server adds fc6 after a0",
    (user("u0"), assistant("a0")),
    (
        Actor("server", (start_response(), add_item(call("fc6", "call_6")), finish_response())),
        Actor("tool", tool_runs("call_6", '{"found": 3}')),
        Actor("agent", (push("local", remove("u0"), "minus u0, the note at its tail"),)),
    ),
    prepare=_with_note,
    min_schedules=70,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)

_SPOKEN = "Tomorrow will be sunny with a light breeze."


def _answer_spoken(w: World) -> None:
    w.pair.server_user_audio("u5")
    rid = w.pair.server_start()
    w.vars["r"] = rid
    w.pair.server_add(rid, assistant("a5", _SPOKEN, audio_ms=3000))
    w.pair.settle()
    w.vars["writer"] = w.pair.snapshot()  # u5 without transcript, a5 whole


R13 = Scenario(
    "r13",
    "R13 Server-side content change",
    "the transcript of u5 and the truncation of a5 land after the writer's snapshot",
    (user("u0"), assistant("a0")),
    (
        Actor("user", (interrupt("a5", 1200),)),
        Actor("server", (transcript("u5", "What's the weather tomorrow?"),)),
        Actor("writer", (push("writer", remove("u0"), "minus u0; u5 a5 as in its base"),)),
    ),
    prepare=_answer_spoken,
    min_schedules=115,
    naive_kinds=frozenset({"CONVERGENCE"}),
)


R14 = Scenario(
    "r14",
    "R14 Follow-up against a VAD auto-response",
    "the user speaks while the tool runs; VAD's response races the follow-up",
    (user("u0"),),
    (
        Actor(
            "vad",
            (
                user_audio("u2"),
                start_response("vad"),
                transcript("u2", "Thanks, and tomorrow?"),
                add_item(assistant("a2"), "vad"),
                finish_response("vad"),
            ),
        ),
        Actor("tool", (tool_finished("call_1", '{"temp": 3}'),)),
    ),
    prepare=call_running(),
    auto_reply=True,
    min_schedules=105,
    naive_kinds=frozenset({"UNANSWERED"}),
)


def _a1_playing(w: World) -> None:
    rid = w.pair.server_start()
    w.vars["r1"] = rid
    w.pair.server_add(rid, assistant("a1", "Our opening hours are", audio_ms=2000))
    w.pair.settle()


def _heard(item_id: str) -> Action:
    def run(w: World) -> None:
        w.vars["policy"] = w.pair.snapshot()

    return Action(
        f"policy takes a snapshot holding {item_id}",
        run,
        ready=lambda w: any(i.id == item_id for i in w.pair.client.mirror_items()),
    )


R15 = Scenario(
    "r15",
    "R15 Cancel and truncate races",
    "VAD cancels r1 while the client's barge-in cancels it; a push drops a2 as it is cut",
    (user("u0"),),
    (
        Actor("vad", (finish_response("r1", "cancelled"),)),
        Actor("user", (interrupt("a1", 800), interrupt("a2", 500))),
        Actor(
            "server",
            (
                user_audio("u2"),
                transcript("u2", "And on Sunday?"),
                start_response("r2"),
                add_item(assistant("a2", "On Sunday we are closed.", audio_ms=1500), "r2"),
                finish_response("r2"),
            ),
        ),
        Actor("policy", (_heard("a2"), push("policy", remove("a2"), "minus a2"))),
    ),
    prepare=_a1_playing,
    min_schedules=600,
    naive_kinds=frozenset({"OP_FAILED"}),
)

R16 = Scenario(
    "r16",
    "R16 Parallel function calls",
    "one response emits fc1 and fc2 (whose tool times out); outputs and a push interleave",
    (user("u0"),),
    (
        Actor(
            "server",
            (
                start_response(),
                add_item(call("fc1", "call_1", "weather", '{"city": "Oslo"}')),
                add_item(call("fc2", "call_2", "weather", '{"city": "Bergen"}')),
                finish_response(),
            ),
        ),
        Actor("tool1", tool_runs("call_1", '{"temp": 3}')),
        Actor("tool2", (tool_started("call_2"), tool_abandoned("call_2"))),  # it times out
        Actor("policy", (snapshot("policy"), push("policy", remove("u0"), "minus u0"))),
    ),
    auto_reply=True,
    min_schedules=65,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)


def _redact_u1(ctx: ChatContext) -> None:
    u1 = ctx.get("u1")
    assert isinstance(u1, Message)
    ctx.replace(replace(u1, content="[redacted]", audio=False))


def _u1_pending(w: World) -> None:
    w.pair.server_user_audio("u1")
    rid = w.pair.server_start()
    w.pair.server_add(rid, assistant("a1", "Sure, I can help with that."))
    w.pair.server_finish(rid)
    w.pair.settle()
    w.vars["writer"] = w.pair.snapshot()


def _no_card_number(w: World) -> Problems:
    return [
        ("PII_KEPT", item.id, "the card number is on the server")
        for item in w.pair.store.items()
        if isinstance(item, Message) and "4111" in item.text
    ]


R17 = Scenario(
    "r17",
    "R17 Server-created user items",
    "a redaction rewrites u1 while its transcript is pending",
    (user("u0"), assistant("a0")),
    (
        Actor("writer", (push("writer", _redact_u1, "u1 redacted"),)),
        Actor("server", (transcript("u1", "My card number is 4111 1111 1111 1111"),)),
    ),
    prepare=_u1_pending,
    check=_no_card_number,
    min_schedules=5,
    naive_kinds=frozenset({"NO_LOST_ITEM"}),
)


def _summarize(ctx: ChatContext) -> None:
    for item_id in ("u0", "a0", "u1"):
        ctx.remove(item_id)
    ctx.insert_after(None, Message(id="s", role="system", content="Booked a table for 4."))


def _no_hole(w: World) -> Problems:
    """Every response saw u0 or the summary that replaced it: never neither."""
    return [
        ("HALF_APPLIED", rid, f"response {rid} saw neither u0 nor s: {view}")
        for rid, view in w.pair.response_views.items()
        if "u0" not in view and "s" not in view
    ]


R18 = Scenario(
    "r18",
    "R18 A response sees a half-applied edit",
    "VAD starts a response while a summary's deletes and create are on the wire",
    turns(4),
    (
        Actor(
            "summarizer",
            (push("summarizer", _summarize, "s replaces u0 a0 u1"), generate_reply()),
        ),
        Actor(
            "vad",
            (
                user_audio("u2"),
                start_response("vad"),
                transcript("u2", "Make it five."),
                add_item(assistant("a2"), "vad"),
                finish_response("vad"),
            ),
        ),
    ),
    prepare=snapshot_as("summarizer"),
    check=_no_hole,
    auto_reply=True,
    min_schedules=400,
    naive_kinds=frozenset({"HALF_APPLIED"}),
)


def _a2_streaming(w: World) -> None:
    w.pair.server_user_audio("u2")
    w.pair.server_transcript("u2", "What about dessert?")
    rid = w.pair.server_start()
    w.vars["r1"] = rid
    w.pair.server_add(rid, assistant("a2", "We have"), done=False)
    w.pair.settle()
    w.vars["policy"] = w.pair.snapshot()


def _oob_not_mirrored(w: World) -> Problems:
    mirror = {i.id for i in w.pair.client.mirror_items()}
    return [
        ("OOB_IN_MIRROR", i, "an out-of-band item entered the mirror")
        for i in mirror
        if i.startswith("oob")
    ]


R19 = Scenario(
    "r19",
    "R19 Out-of-band responses",
    "a summary runs out of band beside r1 while the agent asks for its own reply",
    turns(4),
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
            ),
        ),
        Actor("agent", (generate_reply(),)),
        Actor("policy", (push("policy", remove("u0", "a0"), "minus u0 a0"),)),
        Actor(
            "server",
            (stream(assistant("a2", "We have tiramisu.")), finish_response("r1")),
        ),
    ),
    prepare=_a2_streaming,
    check=_oob_not_mirrored,
    auto_reply=True,
    min_schedules=1500,
    naive_kinds=frozenset({"OP_FAILED"}),
)


def _retrieve(item_id: str) -> Action:
    """The application's `conversation.item.retrieve`, answered from the store as it is."""

    def run(w: World) -> None:
        item = w.pair.store.get(item_id)
        if item is None:
            w.pair.server_error(
                "item_retrieve_invalid_item_id",
                f"Error retrieving item: the item with id '{item_id}' does not exist.",
                "evt_app_retrieve",
            )
        else:
            w.pair.emit(ev.ItemRetrieved(item))

    return Action(f"the application retrieves {item_id}", run, "server")


def _rebuilt(w: World) -> None:
    """The application rebuilds a context from scratch out of what it fetched."""
    w.pair.push(ChatContext(list(turns(4))))


def _a0_stays_deleted(w: World) -> Problems:
    """The policy deleted a0; a context rebuilt from what a retrieve returned must not
    bring it back (whichever came first, a0 ends deleted)."""
    if "a0" in w.pair.store.ids():
        return [("RESURRECTED", "a0", "a0 came back from a retrieved snapshot")]
    return []


R20 = Scenario(
    "r20",
    "R20 Retrieve is a snapshot",
    "a retrieve of a0 races a push deleting it",
    turns(4),
    (
        Actor("policy", (push("policy", remove("a0"), "minus a0"),)),
        Actor(
            "app",
            (_retrieve("a0"), Action("the app pushes a context rebuilt from scratch", _rebuilt)),
        ),
    ),
    prepare=snapshot_as("policy"),
    check=_a0_stays_deleted,
    min_schedules=12,
    naive_kinds=frozenset({"RESURRECTED"}),
)


def _noise(w: World) -> None:
    rid = w.pair.server_start()
    w.pair.server_finish(rid)


def _vad_fires() -> Action:
    """Noise on the line: the server's VAD starts (and ends) a response, if it is on."""
    return Action(
        "noise: VAD starts a response",
        _noise,
        "server",
        ready=lambda w: w.pair.vad_on_server and w.pair.active is None and bool(w.pair.store.ids()),
    )


def _no_half_restore(w: World) -> Problems:
    history = {item.id for item in turns(4)}
    out: Problems = []
    for rid, view in w.pair.response_views.items():
        seen = set(view) & history
        if seen and seen != history:
            out.append(("HALF_RESTORED", rid, f"response {rid} saw a partial restore: {view}"))
    return out


R21 = Scenario(
    "r21",
    "R21 session.update racing the conversation",
    "VAD fires while the restore after a drop is on the wire",
    turns(4),
    (
        Actor("wire", (disconnect(),)),
        Actor("vad", (_vad_fires(),)),
    ),
    server_vad=True,
    check=_no_half_restore,
    min_schedules=10,
    naive_kinds=frozenset({"HALF_RESTORED"}),
)

_FRAMEWORK_ID = "lk.chat-msg/3f9c2b1e-7d4a-4b8e-9c1f-2a6d8e0b5c47"


def _typed(ctx: ChatContext) -> None:
    ctx.append(Message(id=_FRAMEWORK_ID, role="user", content="typed in the app"))


R22 = Scenario(
    "r22",
    "R22 Ids",
    "the app pushes a message under a framework id the server refuses, as a turn runs",
    (user("u0"),),
    (
        Actor("app", (push("app", _typed, "a message with a framework id"),)),
        Actor("server", spoken_turn("u1", "hello?", assistant("a1"))),
    ),
    prepare=snapshot_as("app"),
    min_schedules=90,
    naive_kinds=frozenset({"OP_FAILED"}),
)

LATE = (R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22)
