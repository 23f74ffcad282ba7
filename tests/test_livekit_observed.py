"""The base of a LiveKit push, derived from what LiveKit had observed (no network).

Each test builds the server's conversation in accord's engine, lets the adapter's
:class:`Observations` record what LiveKit was shown and took in, pushes a LiveKit
context through the derivation and the engine's merge, and reads which deletes the
engine decided: only items the pushed context provably held may go.
"""

from __future__ import annotations

from livekit.agents import llm

from accord.engine import events as ev
from accord.engine.engine import SyncEngine
from accord.integrations.livekit.convert import to_livekit
from accord.integrations.livekit.observed import Observations
from accord.items import FunctionCall, Item, Message

U0 = Message(id="u0", role="user", content="hello")
A0 = Message(id="a0", role="assistant", content="Hi!")
U1 = Message(id="u1", role="user", content="I am Ada")
A1 = Message(id="a1", role="assistant", content="Hello Ada")
U2 = Message(id="u2", role="user", content="weather?")
FC2 = FunctionCall(id="fc2", call_id="call_2", name="get_weather", arguments="{}")


def server(*items: Item) -> SyncEngine:
    engine = SyncEngine(seed=0)
    previous: str | None = None
    for item in items:
        engine.receive(ev.ItemAdded(item, previous), 0.0)
        engine.receive(ev.ItemUpdated(item, done=True), 0.0)
        previous = item.id
    return engine


def deletes(engine: SyncEngine, ctx: object) -> list[str]:
    _push_id, effects = engine.push(ctx, 0.0)  # type: ignore[arg-type]
    return [
        e.op.item_id for e in effects if isinstance(e, ev.Send) and isinstance(e.op, ev.DeleteItem)
    ]


def creates(engine: SyncEngine, ctx: object) -> list[str]:
    _push_id, effects = engine.push(ctx, 0.0)  # type: ignore[arg-type]
    return [
        e.op.item.id for e in effects if isinstance(e, ev.Send) and isinstance(e.op, ev.CreateItem)
    ]


def livekits_own(*items: Item) -> list[llm.ChatItem]:
    """Copies LiveKit made itself (its agent context): objects the adapter never handed out."""
    return [to_livekit(item) for item in items]


def observe(obs: Observations, *items: Item) -> None:
    for item in items:
        obs.shown(item)
        obs.seen(item.id)


# -- the agent's own context -------------------------------------------------------------


def test_a_stale_agent_context_deletes_only_what_it_held() -> None:
    """R2: the summarizer's snapshot held u0 a0 u1 a1; u2 and the call came after. Its push
    (u0 a0 dropped) deletes u0 a0, never u2 or the call it did not see."""
    engine = server(U0, A0, U1, A1, U2, FC2)
    obs = Observations()
    observe(obs, U0, A0, U1, A1)
    stale = livekits_own(U1, A1)  # the edited snapshot
    observe(obs, U2, FC2)  # taken in after the snapshot
    derived = obs.derive(stale, engine.context())
    assert not derived.from_snapshot
    assert derived.ctx.base is not None
    assert {i.id for i in derived.ctx.base.items} == {"u0", "a0", "u1", "a1"}
    assert sorted(deletes(engine, derived.ctx)) == ["a0", "u0"]


def test_an_item_livekit_never_took_in_is_never_deleted_by_its_absence() -> None:
    """A call the model made but LiveKit has not pulled yet, and a turn LiveKit never
    recorded: not in any base, so a newer context lacking them keeps them."""
    engine = server(U0, A0, FC2)
    obs = Observations()
    observe(obs, U0, A0)
    obs.shown(FC2)  # shown (remote_item_added) but never taken in
    assert deletes(engine, obs.derive(livekits_own(A0), engine.context()).ctx) == ["u0"]


def test_a_context_that_observed_nothing_deletes_nothing() -> None:
    engine = server(U0, A0)
    obs = Observations()
    note = Message(id="note", role="system", content="profile")
    derived = obs.derive(livekits_own(note), engine.context())
    assert derived.ctx.base is not None and derived.ctx.base.items == ()
    assert deletes(engine, derived.ctx) == []


def test_a_version_livekit_was_shown_is_not_an_edit() -> None:
    """LiveKit's copy of a transcript still pending, pushed after the transcript came:
    the copy is a version LiveKit was shown, so the server's transcript stays."""
    pending = Message(id="u5", role="user", content=None, audio=True)
    heard = Message(id="u5", role="user", content="book a table", audio=True)
    engine = server(U0, pending)
    engine.receive(ev.TranscriptDone("u5", "book a table"), 0.0)
    obs = Observations()
    observe(obs, U0, pending)
    obs.shown(heard)
    derived = obs.derive(livekits_own(U0, pending), engine.context())
    assert deletes(engine, derived.ctx) == []
    assert engine.context().get("u5") == heard


def test_a_changed_text_is_an_edit() -> None:
    engine = server(U0, A0)
    obs = Observations()
    observe(obs, U0, A0)
    redacted = livekits_own(U0, Message(id="a0", role="assistant", content="[redacted]"))
    derived = obs.derive(redacted, engine.context())
    created = creates(engine, derived.ctx)
    assert len(created) == 1 and created[0] != "a0"  # a rewrite: a fresh id, aliased
    assert engine.aliases() == {"a0": created[0]}


def test_an_old_id_resolves_through_the_rewrite() -> None:
    engine = server(U0, A0)
    obs = Observations()
    observe(obs, U0, A0)
    derived = obs.derive(
        livekits_own(U0, Message(id="a0", role="assistant", content="x")), engine.context()
    )
    new_id = creates(engine, derived.ctx)[0]
    obs.aliases["a0"] = new_id
    again = obs.derive(
        livekits_own(U0, Message(id="a0", role="assistant", content="x")), engine.context()
    )
    assert deletes(engine, again.ctx) == [] and creates(engine, again.ctx) == []


# -- a snapshot of the session -------------------------------------------------------------


def test_a_copy_of_a_snapshot_pushes_with_that_snapshot_as_its_base() -> None:
    """LiveKit's AgentActivity copies ``session.chat_ctx`` and adds a tool output: the
    items remember the snapshot (copy() keeps them), so the base is exactly it."""
    engine = server(U0, A0, FC2)
    obs = Observations()
    snapshot = obs.snapshot(engine.context())
    copy = snapshot.copy()
    output = llm.FunctionCallOutput(call_id="call_2", output="18C", is_error=False)
    copy.items.append(output)
    derived = obs.derive(copy.items, engine.context())
    assert derived.from_snapshot and derived.livekit_ids == (output.id,)
    assert derived.ctx.base == engine.context().base
    assert creates(engine, derived.ctx) == [output.id]


def test_a_snapshot_copy_minus_an_item_deletes_it_and_nothing_newer() -> None:
    engine = server(U0, A0)
    obs = Observations()
    snapshot = obs.snapshot(engine.context())
    engine.receive(ev.ItemAdded(U1, "a0"), 0.0)  # after the snapshot
    kept = [i for i in snapshot.items if i.id != "u0"]
    assert deletes(engine, obs.derive(kept, engine.context()).ctx) == ["u0"]
