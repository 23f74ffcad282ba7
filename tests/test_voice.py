"""Voice out of the box (issue 17): server VAD by default for agents that hear audio,
the reply's PCM16 as a documented stream, and the manual-commit opt-out.

Every test runs the agent against the in-process simulator on 127.0.0.1 (port 0); the
user's speech is :func:`accord.sim.audio.synthesize`'s, whose embedded text the
simulator "hears", and the reply's audio carries its own text the same way, so the test
can check what was said in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from accord.agent import DEFAULT_SERVER_VAD, Agent, AgentRunner, Transcript, server_vad
from accord.client import events as se
from accord.client.generation import Generation
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.server import SimServer

IDLE = 10.0  # seconds any single wait may take
QUESTION = "what time does the museum open"


@contextlib.asynccontextmanager
async def voice_session(
    agent: Agent, config: SimConfig | None = None
) -> AsyncIterator[tuple[SimServer, RealtimeSession, AgentRunner]]:
    async with (
        SimServer(config or SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test-not-a-key", session=agent.session_config()
        ) as session,
    ):
        runner = agent.start(session)
        try:
            yield sim, session, runner
        finally:
            await runner.aclose()


async def next_reply(runner: AgentRunner) -> Generation:
    """The next in-band generation the runner reports."""
    async with asyncio.timeout(IDLE):
        async for event in runner.events():
            if isinstance(event, se.GenerationStarted) and not event.generation.out_of_band:
                return event.generation
    raise AssertionError("the runner's events ended without a reply")


def spoken(text: str) -> bytes:
    """An utterance followed by enough silence for server VAD to end the turn."""
    return audio.synthesize(text) + audio.silence(800)


# -- the session configuration -------------------------------------------------------------


def turn_detection(agent: Agent) -> object:
    return agent.session_config()["audio"]["input"]["turn_detection"]


def test_an_audio_agent_gets_server_vad_by_default() -> None:
    agent = Agent("Be brief.", modalities=["audio"])
    detection = turn_detection(agent)
    assert detection == DEFAULT_SERVER_VAD
    assert isinstance(detection, dict)
    assert detection["type"] == "server_vad"
    assert detection["create_response"] is True


def test_a_text_agent_that_hears_audio_gets_server_vad_too() -> None:
    assert turn_detection(Agent("Be brief.", audio_input=True)) == DEFAULT_SERVER_VAD


def test_a_text_agent_keeps_turn_detection_off() -> None:
    assert turn_detection(Agent("Be brief.")) is None


@pytest.mark.parametrize("off", ["off", None])
def test_turn_detection_off_is_null_on_the_wire(off: None) -> None:
    assert turn_detection(Agent("Be brief.", modalities=["audio"], turn_detection=off)) is None


def test_server_vad_overrides_keep_the_other_defaults() -> None:
    slow = server_vad(silence_duration_ms=900)
    assert slow == {**DEFAULT_SERVER_VAD, "silence_duration_ms": 900}
    agent = Agent("Be brief.", modalities=["audio"], turn_detection=slow)
    assert turn_detection(agent) == slow
    assert DEFAULT_SERVER_VAD["silence_duration_ms"] == 500  # the default is not changed
    with pytest.raises(TypeError, match="bogus"):
        server_vad(bogus=1)


def test_the_default_is_a_server_vad_the_official_sdk_knows_field_by_field() -> None:
    """The SDK as the oracle: every setting is a field of its ``ServerVad``, typed right
    (pydantic models accept unknown keys, so the names are checked one by one)."""
    from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad

    parsed = ServerVad.model_validate(DEFAULT_SERVER_VAD)
    assert set(DEFAULT_SERVER_VAD) <= set(ServerVad.model_fields)
    assert parsed.model_dump(exclude_unset=True) == dict(DEFAULT_SERVER_VAD)


def test_an_unknown_turn_detection_word_is_refused() -> None:
    with pytest.raises(ValueError, match="turn_detection"):
        Agent("Be brief.", modalities=["audio"], turn_detection="sometimes")  # type: ignore[arg-type]


# -- on the simulator ----------------------------------------------------------------------


async def test_an_audio_agent_answers_speech_with_speech() -> None:
    """Issue 17: ``Agent(modalities=["audio"])`` and ``runner.speak`` get a spoken reply,
    with nothing else configured (it sent ``turn_detection: null`` and got silence)."""
    agent = Agent("Be brief.", modalities=["audio"])
    async with voice_session(agent) as (sim, _session, runner):
        reply_task = asyncio.ensure_future(next_reply(runner))
        runner.speak(spoken(QUESTION))
        generation = await reply_task
        pcm = await generation.collect_audio()
        assert await generation.wait() == "completed"
        assert audio.duration_ms(pcm) > 500
        assert len(pcm) % 2 == 0
        said = audio.transcribe(pcm)
        assert said is not None
        assert QUESTION in said  # the simulator's model echoes what it heard
        await runner.wait_idle(IDLE)
        server_turn = sim.sessions[0].session["audio"]["input"]["turn_detection"]
        assert server_turn["type"] == "server_vad"


async def test_the_reply_audio_per_message_equals_the_whole_generation() -> None:
    agent = Agent("Be brief.", modalities=["audio"])
    async with voice_session(agent) as (_sim, _session, runner):
        reply_task = asyncio.ensure_future(next_reply(runner))
        runner.speak(spoken(QUESTION))
        generation = await reply_task
        message = await anext(aiter(generation.messages))
        streamed = b"".join([chunk async for chunk in message.audio])
        whole = await generation.collect_audio()
        assert streamed
        assert streamed == await message.collect_audio() == whole
        # Every reader sees every chunk: reading twice, or after the end, loses nothing.
        assert b"".join([chunk async for chunk in generation.audio]) == whole
        assert await message.wait_modality() == "audio"


async def test_the_runner_reports_both_sides_of_a_spoken_turn() -> None:
    agent = Agent("Be brief.", modalities=["audio"])
    async with voice_session(agent) as (_sim, _session, runner):
        transcripts: list[Transcript] = []

        async def collect() -> None:
            async for event in runner.events():
                if isinstance(event, Transcript):
                    transcripts.append(event)

        collector = asyncio.ensure_future(collect())
        runner.speak(spoken(QUESTION))
        async with asyncio.timeout(IDLE):
            while {t.role for t in transcripts} != {"user", "assistant"}:
                await asyncio.sleep(0.01)
        collector.cancel()
        by_role = {t.role: t.text for t in transcripts}
        assert by_role["user"] == QUESTION
        assert QUESTION in by_role["assistant"]


async def test_turn_detection_off_leaves_the_commit_to_the_application() -> None:
    """The opt-out: nothing answers until the application commits and asks."""
    agent = Agent("Be brief.", modalities=["audio"], turn_detection="off")
    async with voice_session(agent) as (sim, session, runner):
        runner.speak(spoken(QUESTION))
        await asyncio.sleep(0.3)
        assert not [i for i in session.chat_ctx if isinstance(i, Message) and i.role == "user"]
        session.commit_audio()
        generation = await session.generate_reply()
        pcm = await generation.collect_audio()
        assert QUESTION in (audio.transcribe(pcm) or "")
        await runner.wait_idle(IDLE)
        assert sim.sessions[0].session["audio"]["input"]["turn_detection"] is None


async def test_every_reader_of_a_stream_gets_every_chunk() -> None:
    """Two readers at once, one that starts late and one after the end all see the
    whole stream (the runner reading a reply's text no longer takes it from the
    application); nothing is added after the end."""
    generation = Generation("resp_1", out_of_band=False, requested_by=None)
    early = asyncio.ensure_future(generation.collect_text())
    also = asyncio.ensure_future(generation.collect_text())
    await asyncio.sleep(0)
    generation.text.put("Hel")
    late = asyncio.ensure_future(generation.collect_text())
    generation.text.put("lo")
    generation.finish("completed")
    generation.text.put("!")  # after the end: dropped
    assert await early == await also == await late == "Hello"
    assert await generation.collect_text() == "Hello"
    assert await generation.collect_audio() == b""  # a text reply has no audio
