"""Every member of LiveKit's realtime interface, on accord's model, against the simulator.

LiveKit's ``AgentActivity`` is the only caller in production; here each member is
driven directly and judged by what reaches the simulator and by the events LiveKit
would hear. Loopback only, a dummy key.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import APIError, function_tool, llm
from livekit.agents.metrics import RealtimeModelMetrics
from livekit.plugins import openai as lk_openai
from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad

from accord.integrations.livekit import RealtimeModel, RealtimeSession, UnsupportedInputError
from accord.integrations.livekit.audio import frame_from_pcm
from accord.integrations.livekit.options import endpoint
from accord.items import Message
from accord.sim import audio
from accord.sim.channel import Transit
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from test_livekit_support import API_KEY, TIMEOUT

EVENTS = (
    "generation_created",
    "input_speech_started",
    "input_speech_stopped",
    "input_audio_transcription_completed",
    "remote_item_added",
    "error",
    "session_reconnected",
    "metrics_collected",
    "accord_push_report",
)


class Heard:
    """Every event the session emitted, in order."""

    def __init__(self, session: RealtimeSession) -> None:
        self.events: list[tuple[str, Any]] = []
        for name in EVENTS:
            session.on(name, functools.partial(self._add, name))

    def _add(self, name: str, event: Any) -> None:
        self.events.append((name, event))

    def of(self, name: str) -> list[Any]:
        return [event for kind, event in self.events if kind == name]

    async def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _e: True) -> Any:
        async def loop() -> Any:
            while True:
                for event in self.of(name):
                    if match(event):
                        return event
                await asyncio.sleep(0.005)

        return await asyncio.wait_for(loop(), TIMEOUT)


async def until(condition: Callable[[], bool]) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), TIMEOUT)


@asynccontextmanager
async def opened(
    sim: SimServer, *, disabled: bool = False, **model_options: Any
) -> AsyncIterator[tuple[RealtimeSession, Heard, SimSession]]:
    """A session of accord's model on ``sim`` (text out unless told), connected."""
    options: dict[str, Any] = {"modalities": ["text"], **model_options}
    model = RealtimeModel(base_url=f"http://127.0.0.1:{sim.port}/v1", api_key=API_KEY, **options)
    session = model.session(turn_detection_disabled=disabled)
    heard = Heard(session)
    try:
        await session.update_instructions("You are helpful.")  # waits for the connection
        yield session, heard, sim.sessions[-1]
    finally:
        await session.aclose()
        await model.aclose()


def scripted(*responses: list[Any]) -> Callable[[], ScriptedModel]:
    def make() -> ScriptedModel:
        model = ScriptedModel()
        for outputs in responses:
            model.add(*outputs)
        return model

    return make


# -- the surface ---------------------------------------------------------------------------


def test_the_constructors_take_livekits_keyword_arguments() -> None:
    for ours, theirs in (
        (RealtimeModel.__init__, lk_openai.realtime.RealtimeModel.__init__),
        (RealtimeModel.with_azure, lk_openai.realtime.RealtimeModel.with_azure),
    ):
        mine = inspect.signature(ours).parameters
        for name, param in inspect.signature(theirs).parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            assert name in mine, f"{ours.__qualname__} lacks {name}"
            assert mine[name].default is param.default or mine[name].default == param.default, (
                f"{ours.__qualname__}: {name} defaults to {mine[name].default!r}, "
                f"LiveKit's to {param.default!r}"
            )


def test_every_member_of_livekits_realtime_interface_is_there() -> None:
    assert not inspect.isabstract(RealtimeModel)
    assert not inspect.isabstract(RealtimeSession)
    for name in (
        "chat_ctx",
        "tools",
        "update_instructions",
        "update_chat_ctx",
        "update_tools",
        "update_options",
        "push_audio",
        "push_video",
        "generate_reply",
        "commit_audio",
        "clear_audio",
        "interrupt",
        "truncate",
        "aclose",
    ):
        assert getattr(RealtimeSession, name) is not getattr(llm.RealtimeSession, name, None)


def test_endpoints_and_keys_follow_livekits_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = RealtimeModel(api_key="sk-x", base_url="https://api.example/v1")
    target = endpoint(openai.options)
    assert target.url == "wss://api.example/v1/realtime?model=gpt-realtime"
    assert target.headers == {"Authorization": "Bearer sk-x"}
    azure = RealtimeModel.with_azure(
        azure_deployment="voice", azure_endpoint="https://res.openai.azure.com", api_key="az"
    )
    target = endpoint(azure.options)
    assert target.url == "wss://res.openai.azure.com/openai/v1/realtime?model=voice"
    assert target.headers == {"api-key": "az"}
    entra = RealtimeModel.with_azure(
        azure_deployment="voice", azure_endpoint="https://res.openai.azure.com", entra_token="t"
    )
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    assert endpoint(entra.options).headers["Authorization"] == "Bearer t"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key"):
        RealtimeModel()


# -- configuration ---------------------------------------------------------------------------


async def test_the_session_is_configured_as_livekits_plugin_would() -> None:
    async with SimServer() as sim:
        async with opened(sim) as (session, heard, server):
            config = server.session
            assert config["instructions"] == "You are helpful."
            assert config["output_modalities"] == ["text"]
            assert config["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
            assert config["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
            assert session.capabilities.turn_detection
            acquired = [m for m in heard.of("metrics_collected") if m.acquire_time > 0]
            assert len(acquired) == 1  # the connection's own metrics
        async with opened(sim, disabled=True) as (session, _heard, server):
            assert server.session["audio"]["input"]["turn_detection"] is None
            assert not session.capabilities.turn_detection
            assert session.realtime_model.capabilities.turn_detection  # the model's unchanged


async def test_tools_and_options_reach_the_server() -> None:
    @function_tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        return "18C"

    async with SimServer() as sim, opened(sim) as (session, _heard, server):
        await session.update_tools([get_weather])
        assert [t["name"] for t in server.session["tools"]] == ["get_weather"]
        assert list(session.tools.function_tools) == ["get_weather"]
        session.update_options(tool_choice="required", voice="alloy")
        await until(lambda: server.session["tool_choice"] == "required")
        assert server.session["audio"]["output"]["voice"] == "alloy"
        model = session.realtime_model
        assert isinstance(model, RealtimeModel)
        model.update_options(turn_detection=ServerVad(type="server_vad", create_response=False))
        await until(
            lambda: server.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        )
        assert not session.capabilities.turn_detection  # the server no longer answers turns


# -- replies -----------------------------------------------------------------------------------


async def test_a_reply_streams_each_message_and_each_call() -> None:
    script = scripted(
        [
            PlannedText("First part."),
            PlannedText("Second part."),
            PlannedCall("get_weather", '{"city": "Paris"}'),
        ]
    )
    async with SimServer(model_factory=script) as sim, opened(sim) as (session, heard, _s):
        generation = await asyncio.wait_for(session.generate_reply(instructions="Go."), TIMEOUT)
        assert generation.user_initiated and generation.response_id
        messages = [m async for m in generation.message_stream]
        texts = ["".join([c async for c in m.text_stream]) for m in messages]
        assert texts == ["First part.", "Second part."]
        assert [await m.modalities for m in messages] == [["text"], ["text"]]
        calls = [c async for c in generation.function_stream]
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Paris"}')]
        assert heard.of("generation_created") == [generation]
        metrics = await heard.wait_for(
            "metrics_collected", lambda m: m.request_id == generation.response_id
        )
        assert isinstance(metrics, RealtimeModelMetrics) and not metrics.cancelled
        assert metrics.duration > 0 and metrics.ttft >= 0


async def test_a_reply_livekit_gave_up_on_is_cancelled_when_it_comes() -> None:
    config = SimConfig(stream_pause_ms=20)
    script = scripted([PlannedText("A long answer nobody will hear. " * 4)])
    async with (
        SimServer(config, model_factory=script) as sim,
        opened(sim) as (session, heard, server),
    ):
        future = session.generate_reply()
        future.cancel()  # LiveKit's speech was interrupted before the server answered
        await until(lambda: any(getattr(e, "type", "") == "response.done" for e in server.sent))
        done = next(e for e in server.sent if getattr(e, "type", "") == "response.done")
        assert done.response.status == "cancelled"  # type: ignore[union-attr]
        assert heard.of("generation_created") == []


async def test_interrupt_cancels_the_reply_being_generated() -> None:
    config = SimConfig(stream_pause_ms=20)
    script = scripted([PlannedText("Here is a long reply that will be cut. " * 4)])
    async with (
        SimServer(config, model_factory=script) as sim,
        opened(sim) as (session, heard, _server),
    ):
        generation = await asyncio.wait_for(session.generate_reply(), TIMEOUT)
        message = await anext(aiter(generation.message_stream))
        await anext(aiter(message.text_stream))  # it is streaming
        session.interrupt()
        metrics = await heard.wait_for("metrics_collected", lambda m: m.request_id)
        assert metrics.cancelled


# -- the conversation ------------------------------------------------------------------------


async def test_a_rewrite_flows_back_and_a_second_push_sends_nothing() -> None:
    async with SimServer() as sim, opened(sim) as (session, heard, server):
        first = llm.ChatContext.empty()
        first.add_message(role="user", content="my card is 4111 1111 1111 1111", id="u0")
        await session.update_chat_ctx(first)
        ctx = session.chat_ctx.copy()
        ctx.items[0] = ctx.items[0].model_copy(update={"content": ["my card is [redacted]"]})
        await session.update_chat_ctx(ctx)
        report = heard.of("accord_push_report")[-1]
        [(old, new)] = report.aliased
        assert old == "u0" and [i.id for i in ctx.items] == [new]  # the alias flowed back
        assert [(i.id, i.text) for i in server.store.items()] == [  # type: ignore[union-attr]
            (new, "my card is [redacted]")
        ]
        await session.update_chat_ctx(ctx)
        assert heard.of("accord_push_report")[-1].sent == ()  # nothing twice


async def test_an_item_the_pushed_context_never_saw_is_kept_and_written_back() -> None:
    """The agent's own context (LiveKit's objects) lacks the reply the server added after
    it was taken: the push keeps the reply and puts it back into that context."""
    script = scripted([PlannedText("Hello, Ada.")])
    async with SimServer(model_factory=script) as sim, opened(sim) as (session, _heard, server):
        agent_ctx = llm.ChatContext.empty()
        agent_ctx.add_message(role="user", content="I am Ada", id="u0")
        await session.update_chat_ctx(agent_ctx)
        generation = await asyncio.wait_for(session.generate_reply(), TIMEOUT)
        reply = (await anext(aiter(generation.message_stream))).message_id
        await until(lambda: server.active is None)
        agent_ctx.add_message(role="system", content="Caller profile: gold.", id="note")
        await session.update_chat_ctx(agent_ctx)
        assert [i.id for i in server.store.items()] == ["u0", reply, "note"]
        assert [i.id for i in agent_ctx.items] == ["u0", reply, "note"]


# -- audio -----------------------------------------------------------------------------------


def frames(pcm: bytes, ms: int = 100) -> list[Any]:
    step = 48 * ms
    return [frame_from_pcm(pcm[i : i + step]) for i in range(0, len(pcm), step)]


async def test_a_spoken_turn_raises_livekits_events() -> None:
    vad = ServerVad(type="server_vad", silence_duration_ms=200)
    script = scripted([PlannedText("A table for two, noted.")])
    async with (
        SimServer(model_factory=script) as sim,
        opened(sim, turn_detection=vad) as (session, heard, _server),
    ):
        for frame in frames(audio.synthesize("book a table") + audio.silence(600)):
            session.push_audio(frame)
        done = await heard.wait_for("input_audio_transcription_completed")
        assert (done.transcript, done.is_final) == ("book a table", True)
        assert done.turn_started_at is not None  # LiveKit places the turn where it began
        assert heard.of("input_speech_started")
        assert heard.of("input_speech_stopped")[0].user_transcription_enabled
        added = heard.of("remote_item_added")[0]
        assert added.item.id == done.item_id and added.item.role == "user"
        generation = await heard.wait_for("generation_created")
        assert not generation.user_initiated  # the server's VAD started it
        assert session.observations.seen_stamp(done.item_id) is not None


async def test_manual_turns_commit_only_enough_audio_and_clear() -> None:
    async with SimServer() as sim, opened(sim, disabled=True) as (session, heard, server):
        for frame in frames(audio.synthesize("hello there")):
            session.push_audio(frame)
        session.commit_audio()
        await heard.wait_for("remote_item_added")
        session.push_audio(frame_from_pcm(audio.silence(50)))
        session.commit_audio()  # 50 ms: the server would refuse it, so it is not sent
        session.clear_audio()
        await session.update_instructions("Still here.")  # a round trip after those
        spoken = [i for i in server.store.items() if isinstance(i, Message) and i.audio]
        assert len(spoken) == 1
        assert not [e for e in heard.of("error")]


async def test_truncate_cuts_the_audio_where_it_was_heard_or_deletes_it() -> None:
    script = scripted([PlannedText("First spoken answer.")], [PlannedText("Second one.")])
    async with (
        SimServer(model_factory=script) as sim,
        opened(sim, modalities=["audio"]) as (session, _heard, server),
    ):
        played = []
        for _ in range(2):
            generation = await asyncio.wait_for(session.generate_reply(), TIMEOUT)
            message = await anext(aiter(generation.message_stream))
            assert await message.modalities == ["audio", "text"]
            pcm = [f async for f in message.audio_stream]
            assert pcm and all(f.sample_rate == 24_000 and f.num_channels == 1 for f in pcm)
            played.append(message.message_id)
            await until(lambda: server.active is None)
        session.truncate(message_id=played[0], modalities=["audio", "text"], audio_end_ms=300)
        session.truncate(message_id=played[1], modalities=["audio", "text"], audio_end_ms=0)
        await until(lambda: server.store.get(played[1]) is None)
        cut = server.store.get(played[0])
        assert isinstance(cut, Message) and cut.audio_ms == 300


async def test_truncate_of_text_keeps_what_was_shown() -> None:
    script = scripted([PlannedText("Hello there, this is long.")])
    async with SimServer(model_factory=script) as sim, opened(sim) as (session, _heard, server):
        generation = await asyncio.wait_for(session.generate_reply(), TIMEOUT)
        message = await anext(aiter(generation.message_stream))
        message_id = message.message_id
        assert "".join([c async for c in message.text_stream]).startswith("Hello")  # read
        await until(lambda: server.active is None)
        session.truncate(
            message_id=message_id, modalities=["text"], audio_end_ms=0, audio_transcript="Hello"
        )
        await until(lambda: server.store.get(message_id) is None)
        [kept] = server.store.items()
        assert isinstance(kept, Message) and kept.text == "Hello"
        assert session.observations.resolve(message_id) == kept.id
        # LiveKit records the message under its old id, as shown: pushing that is no edit.
        agent_ctx = llm.ChatContext.empty()
        agent_ctx.add_message(role="assistant", content="Hello", id=message_id, interrupted=True)
        await session.update_chat_ctx(agent_ctx)
        assert [i.id for i in server.store.items()] == [kept.id]
        assert [i.id for i in agent_ctx.items] == [kept.id]  # the alias flowed back


async def test_video_is_refused_clearly() -> None:
    async with SimServer() as sim, opened(sim) as (session, _heard, _server):
        with pytest.raises(UnsupportedInputError, match="no video"):
            session.push_video(object())  # type: ignore[arg-type]


# -- errors and reconnection -------------------------------------------------------------


async def test_server_errors_and_reconnects_reach_livekit() -> None:
    async with SimServer() as sim, opened(sim) as (session, heard, server):
        start = llm.ChatContext.empty()
        start.add_message(role="user", content="remember me", id="u0")
        await session.update_chat_ctx(start)
        server.inject_error("rate_limit_exceeded", "slow down")
        error = await heard.wait_for("error")
        assert error.recoverable and isinstance(error.error, APIError)
        assert error.error.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        server.faults.close_after_events = len(server.sent) + 1
        session.update_options(voice="verse")  # its acknowledgement is the last event
        await heard.wait_for("session_reconnected")
        await until(lambda: len(sim.sessions) == 2 and sim.sessions[1].store.ids() == ["u0"])
        assert [i.id for i in session.chat_ctx.items] == ["u0"]  # restored, not lost


async def test_interrupt_with_no_reply_running_sends_no_cancel() -> None:
    """LiveKit interrupts voice turns before a reply has started; the real server answers
    a cancel then with response_cancel_not_active (and a cancel sent before
    response.created is a no-op: the reply plays anyway)."""
    cancels: list[int] = []  # response.created delivered when each cancel arrived
    requested = asyncio.Event()

    def watch(server: SimSession) -> None:
        receive = server.receive

        def receiving(frame: str | bytes) -> None:
            if isinstance(frame, str) and '"response.cancel"' in frame:
                created = sum(getattr(e, "type", "") == "response.created" for e in server.sent)
                cancels.append(created)
            receive(frame)
            if isinstance(frame, str) and '"response.create"' in frame:
                requested.set()

        server.receive = receiving  # type: ignore[method-assign]

    # Server events take 300 ms to arrive: the client asks, the server starts the reply,
    # and LiveKit interrupts while response.created is still on its way.
    config = SimConfig(downstream=Transit(latency_ms=300), stream_pause_ms=20)
    script = scripted([PlannedText("A reply the user interrupts before it starts. " * 20)])
    async with (
        SimServer(config, model_factory=script, on_session=watch) as sim,
        opened(sim) as (session, heard, server),
    ):
        session.interrupt()  # nothing asked for, nothing running: nothing to cancel
        future = session.generate_reply()
        await asyncio.wait_for(requested.wait(), TIMEOUT)
        session.interrupt()  # asked for, not yet created: the cancel waits for it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(future, TIMEOUT)
        await until(lambda: any(getattr(e, "type", "") == "response.done" for e in server.sent))
        assert len(cancels) == 1 and cancels[0] >= 1, cancels
        done = next(e for e in server.sent if getattr(e, "type", "") == "response.done")
        assert done.response.status == "cancelled"  # type: ignore[union-attr]
        refusals = [
            e.error.code  # type: ignore[union-attr]
            for e in server.sent
            if getattr(e, "type", "") == "error"
        ]
        assert "response_cancel_not_active" not in refusals
        assert heard.of("error") == []


async def test_a_job_dispatched_again_with_its_journal_key_resumes_its_conversation(
    tmp_path: Path,
) -> None:
    """LiveKit re-dispatches a job whose worker died: the new job's model, given the same
    journal and key, resumes the conversation on a new server session."""
    journal = f"sqlite:///{tmp_path / 'jobs.db'}"
    async with SimServer() as sim:
        async with opened(sim, journal=journal, journal_key="job-7") as (session, _h, first):
            ctx = llm.ChatContext.empty()
            ctx.add_message(role="user", content="book a table for two", id="u0")
            await session.update_chat_ctx(ctx)
            assert [i.id for i in first.store.items()] == ["u0"]
        async with opened(sim, journal=journal, journal_key="job-7") as (session, _h, second):
            assert second is not first
            accord = session.accord_session
            assert accord is not None and accord.key == "job-7"
            async with asyncio.timeout(TIMEOUT):
                while [i.id for i in second.store.items()] != ["u0"]:
                    await asyncio.sleep(0.01)
            assert [i.id for i in session.chat_ctx.items] == ["u0"]
    with pytest.raises(ValueError, match="journal_key is needed"):
        RealtimeModel(api_key=API_KEY, journal=journal)
