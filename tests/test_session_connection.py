"""The connection around a RealtimeSession: the 60-minute close, a refused key or model,
bad frames from the server, and waiters that must end when the server stays silent."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from accord.client import events as app
from accord.client.errors import ConnectionLost, OperationTimeout, RealtimeError
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer, expired_reason
from accord.verify.restore import DropEntry, normalize_for_restore
from test_session_support import (
    TEXT_TOOLS,
    TIMEOUT,
    DropWatch,
    Pump,
    Tap,
    ToolRunner,
    assert_mirror_matches_store,
    settle,
    tap,
)


async def turn(session: RealtimeSession, pump: Pump, item_id: str, text: str) -> None:
    """A typed user turn and its answer."""
    ctx = session.chat_ctx
    ctx.append(Message(id=item_id, role="user", content=text))
    await session.update_chat_ctx(ctx)
    generation = await session.generate_reply()
    assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"


# -- 5. the 60-minute close --------------------------------------------------------------


async def test_the_session_limit_close_reconnects_and_restores_the_conversation() -> None:
    async with SimServer(SimConfig(session_max_seconds=0.5)) as sim:
        session = await RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            seed=31,
            backoff_initial=0.02,
            wait_timeout=TIMEOUT,
            rollover=False,  # the cap met as it comes: a drop, reconnected and restored
        )
        async with session:
            watch = DropWatch(session, sim)
            runner = ToolRunner(session)
            pump = Pump(session, watch, runner)
            await pump.wait_for(app.SessionStarted)
            # The first session's expiry is already running: later sessions get the real
            # limit, so the restored one stays up while it is judged.
            sim.config = dataclasses.replace(sim.config, session_max_seconds=3600.0)
            await turn(session, pump, "u1", "hello there")
            await turn(session, pump, "u2", "what's the weather in Paris?")  # a tool turn
            old = sim.sessions[0]
            await settle(session, old)
            conversation = old.store.items()
            assert len(conversation) == 6  # u1 a1 u2 fc out a2

            dropped = await pump.wait_for(app.Disconnected, timeout=2.0)
            assert (dropped.code, dropped.reason, dropped.will_reconnect) == (
                1001,
                expired_reason(0.5),
                True,
            )
            reconnected = await pump.wait_for(app.Reconnected)
            assert reconnected.lost == ()
            assert len(sim.sessions) == 2
            # The new server holds the old conversation, normalised (invariant 7) ...
            expected, lost = normalize_for_restore([DropEntry(i) for i in conversation])
            assert watch.restored[0] == expected and lost == []
            # ... which is N(projected state at the drop) as the engine froze it.
            assert watch.problems() == []
            new = sim.sessions[1]
            await settle(session, new)
            assert new.store.items() == expected
            assert_mirror_matches_store(session, new)

            await turn(session, pump, "u3", "thanks")  # and the session goes on
            assert new.store.ids()[:6] == [i.id for i in conversation]
            await pump.stop()


# -- 6. no reconnect after a refused key or model ----------------------------------------


class CountingServer(SimServer):
    """Counts the websocket handshakes that reach the server."""

    handshakes: int = 0

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        return super()._check_path(connection, request)


@pytest.mark.parametrize(
    ("key", "model", "code", "server_error"),
    [
        ("sk-wrong", "gpt-realtime", 3000, "invalid_api_key"),
        ("sk-right", "gpt-nonexistent", 4000, None),
    ],
)
async def test_a_refused_key_or_model_is_final(
    key: str, model: str, code: int, server_error: str | None
) -> None:
    record = Tap()
    async with CountingServer(SimConfig(require_key="sk-right")) as sim:
        try:
            session = await RealtimeSession.connect(
                sim.url,
                api_key=key,
                model=model,
                session=TEXT_TOOLS,
                backoff_initial=0.01,
                wait_timeout=TIMEOUT,
                transport_factory=tap(record),
            )
        except ConnectionLost as refused:  # refused at the handshake: also final
            assert refused.final
        else:
            async with session:
                pump = Pump(session)
                await asyncio.wait_for(pump.task, TIMEOUT)  # the events end
                dropped = pump.of(app.Disconnected)
                assert len(dropped) == 1
                assert (dropped[0].code, dropped[0].will_reconnect) == (code, False)
                errors = [e.code for e in pump.of(app.ServerErrorEvent)]
                assert errors == ([server_error] if server_error else [])
                with pytest.raises(ConnectionLost) as ended:
                    await session.update_chat_ctx(session.chat_ctx)
                assert ended.value.final and ended.value.code == code
                assert key not in str(ended.value)
        await asyncio.sleep(0.2)  # many backoffs long: nobody dials again
        assert sim.handshakes == 1 and record.dials == 1
        assert sim.sessions == []


# -- bad frames from the server ----------------------------------------------------------


async def test_malformed_and_unknown_server_frames_are_logged_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="accord.session")
    record = Tap()
    bad: list[str | bytes] = [
        "{not json",
        json.dumps({"type": "response.brand_new_thing", "event_id": "e1", "x": 1}),
        json.dumps({"type": "conversation.item.added", "event_id": "e2"}),  # no item
        json.dumps({"type": "response.output_audio.delta", "event_id": "e3"}),  # no fields
        json.dumps([1, 2, 3]),
        b"\x00\x01binary",
    ]
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            seed=41,
            wait_timeout=TIMEOUT,
            transport_factory=tap(record),
        ) as session,
    ):
        pump = Pump(session)
        await pump.wait_for(app.SessionStarted)
        for frame in bad:
            record.inject.put_nowait(frame)
        await turn(session, pump, "u1", "hello")
        sim_session = sim.sessions[0]
        await settle(session, sim_session)
        assert sim_session.store.ids()[0] == "u1" and len(sim_session.store.ids()) == 2
        assert_mirror_matches_store(session, sim_session)
        assert record.inject.empty()

        notices = [n.text for n in pump.of(app.Notice) if "malformed" in n.text]
        assert len(notices) == len(bad) - 1  # all but the unknown type, which is only logged
        logged = [r.getMessage() for r in caplog.records if r.name == "accord.session"]
        assert sum("malformed server event ignored" in m for m in logged) == len(bad) - 1
        assert any("response.brand_new_thing" in m for m in logged)
        await pump.stop()


# -- waiters never hang ------------------------------------------------------------------


async def test_waiters_end_with_operation_timeout_when_the_server_is_silent() -> None:
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test", session=TEXT_TOOLS, seed=51, wait_timeout=0.3
        ) as session,
    ):
        pump = Pump(session)
        await pump.wait_for(app.SessionStarted)
        sim_session = sim.sessions[0]
        await settle(session, sim_session)
        sim_session.outbox.hold()  # the server works, nothing it says reaches the client

        ctx = session.chat_ctx
        ctx.append(Message(id="u1", role="user", content="hello"))
        calls: list[tuple[str, Any]] = [
            ("update_chat_ctx", session.update_chat_ctx(ctx)),
            ("update_instructions", session.update_instructions("Be brief.")),
            ("generate_reply", session.generate_reply()),
        ]
        for name, call in calls:
            started = asyncio.get_running_loop().time()
            with pytest.raises(OperationTimeout):
                await asyncio.wait_for(call, 2.0)
            elapsed = asyncio.get_running_loop().time() - started
            assert 0.25 < elapsed < 1.0, (name, elapsed)

        sim_session.outbox.release()  # the answers arrive late: the session carries on
        await settle(session, sim_session)
        assert sim_session.store.ids()[0] == "u1" and len(sim_session.store.ids()) == 2
        assert_mirror_matches_store(session, sim_session)
        assert len(pump.of(app.GenerationStarted)) == 1  # the reply asked for, late
        generation = await session.generate_reply()
        assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
        await pump.stop()


async def test_waiters_pending_at_a_drop_end_with_the_drop_or_the_restore() -> None:
    """A reply requested but not created when the socket drops fails at once with
    ConnectionLost (the request is not carried); a session update is carried (the kept
    configuration is sent again) and ends when the new connection acknowledges it."""
    sim = SimServer(SimConfig())
    async with (
        sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            seed=52,
            backoff_initial=0.02,
            wait_timeout=3.0,
        ) as session,
    ):
        pump = Pump(session)
        await pump.wait_for(app.SessionStarted)
        old = sim.sessions[0]
        await settle(session, old)
        old.outbox.hold()
        reply = asyncio.ensure_future(session.generate_reply())
        update = asyncio.ensure_future(session.update_instructions("Answer in French."))
        await asyncio.sleep(0.05)  # both requests reach the server; no answer comes back
        assert not reply.done() and not update.done()
        started = asyncio.get_running_loop().time()
        await old._close(1011, "simulated connection drop")

        with pytest.raises(ConnectionLost) as lost:
            await asyncio.wait_for(reply, 1.0)
        assert not lost.value.final
        await asyncio.wait_for(update, 1.0)  # no exception: applied on the new connection
        assert asyncio.get_running_loop().time() - started < 1.0
        await pump.wait_for(app.Reconnected)
        assert sim.sessions[1].session["instructions"] == "Answer in French."
        await pump.stop()


# -- session updates ---------------------------------------------------------------------


async def test_session_updates_resolve_and_a_refused_one_does_not_shift_the_next() -> None:
    """update_session waits for its own session.updated; a refused update ends with the
    server's error, the acknowledgement of the next update still answers the next, and
    the refused fields are not sent again with the configuration after a reconnect."""
    sim = SimServer(SimConfig())
    async with (
        sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            seed=53,
            wait_timeout=1.0,
            backoff_initial=0.02,
        ) as session,
    ):
        pump = Pump(session)
        await pump.wait_for(app.SessionStarted)
        await asyncio.wait_for(session.update_instructions("Be brief."), 2.0)
        with pytest.raises(RealtimeError) as refused:
            await asyncio.wait_for(session.update_session(no_such_field=True), 2.0)
        assert refused.value.code == "unknown_parameter"
        await asyncio.wait_for(session.update_tools([]), 2.0)
        sim_session = sim.sessions[0]
        await settle(session, sim_session)
        assert sim_session.session["instructions"] == "Be brief."
        assert sim_session.session["tools"] == []
        assert not [op for op in session.core.engine.ledger.open_ops() if op.kind == "session"]

        errors_before = len(pump.of(app.ServerErrorEvent))
        await sim_session._close(1011, "simulated connection drop")
        await pump.wait_for(app.Reconnected)
        new = sim.sessions[1]
        await settle(session, new)
        assert len(pump.of(app.ServerErrorEvent)) == errors_before  # configured cleanly
        assert new.session["instructions"] == "Be brief."
        assert new.session["tools"] == []
        await pump.stop()


# -- the server gone for good ------------------------------------------------------------


async def test_with_the_server_gone_waiters_fail_with_connection_lost_and_events_say_so() -> None:
    """It waited the whole wait_timeout (OperationTimeout), then ConnectionLost, and no
    event said that no reconnect would follow."""
    sim = SimServer(SimConfig())
    await sim.start()
    session = await RealtimeSession.connect(
        sim.url,
        api_key="sk-test",
        session=TEXT_TOOLS,
        backoff_initial=0.05,
        backoff_max=0.2,
        max_reconnect_attempts=3,
        wait_timeout=30.0,
    )
    pump = Pump(session)
    try:
        await pump.wait_for(app.SessionStarted)
        await sim.stop()  # the server is gone, and stays gone
        started = asyncio.get_running_loop().time()
        ctx = session.chat_ctx
        ctx.append(Message(id="u1", role="user", content="anyone there?"))
        with pytest.raises(ConnectionLost) as lost:
            await session.update_chat_ctx(ctx)
        assert lost.value.final
        assert asyncio.get_running_loop().time() - started < 5.0  # not the 30 s wait
        drops = [(e.will_reconnect) for e in pump.of(app.Disconnected)]
        assert drops[0] is True
        assert drops[-1] is False, "no event said the session gave up"
        with pytest.raises(ConnectionLost):
            await session.generate_reply()  # later calls fail at once too
    finally:
        await pump.stop()
        await session.aclose()
