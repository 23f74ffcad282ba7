"""LiveKit items and audio frames <-> accord items and PCM16, both ways (no network)."""

from __future__ import annotations

import array
import base64

from livekit import rtc
from livekit.agents import llm

from accord.integrations.livekit.audio import (
    MIN_COMMIT_SECONDS,
    SAMPLE_RATE,
    AudioInput,
    frame_from_base64,
    frame_from_pcm,
)
from accord.integrations.livekit.convert import (
    INSTRUCTION_IDS,
    from_livekit,
    is_conversation_item,
    to_livekit,
    view,
    with_content_of,
)
from accord.items import FunctionCall, FunctionCallOutput, Message

# -- items -------------------------------------------------------------------------------


def test_a_message_converts_both_ways() -> None:
    item = Message(id="m1", role="assistant", content="Hello there", interrupted=True)
    lk = to_livekit(item, created_at=12.5)
    assert isinstance(lk, llm.ChatMessage)
    assert (lk.id, lk.role, lk.content, lk.interrupted, lk.created_at) == (
        "m1",
        "assistant",
        ["Hello there"],
        True,
        12.5,
    )
    assert from_livekit(lk) == item


def test_a_livekit_message_joins_its_text_parts_and_transcripts() -> None:
    lk = llm.ChatMessage(
        id="m2",
        role="user",
        content=["first line", llm.AudioContent(frame=[], transcript="spoken words")],
    )
    assert from_livekit(lk) == Message(id="m2", role="user", content="first line\nspoken words")


def test_a_developer_message_goes_to_the_server_as_system() -> None:
    lk = llm.ChatMessage(id="d1", role="developer", content=["be brief"])
    assert from_livekit(lk) == Message(id="d1", role="system", content="be brief")


def test_an_empty_message_is_an_empty_text_and_back() -> None:
    lk = to_livekit(Message(id="e1", role="assistant", content=""))
    assert isinstance(lk, llm.ChatMessage) and lk.content == []
    assert from_livekit(lk) == Message(id="e1", role="assistant", content="")


def test_a_call_and_its_output_convert_both_ways() -> None:
    call = FunctionCall(id="fc1", call_id="call_1", name="get_weather", arguments='{"c": "P"}')
    output = FunctionCallOutput(id="out1", call_id="call_1", output="18C")
    lk_call, lk_output = to_livekit(call), to_livekit(output)
    assert isinstance(lk_call, llm.FunctionCall)
    assert (lk_call.call_id, lk_call.name, lk_call.arguments) == (
        "call_1",
        "get_weather",
        '{"c": "P"}',
    )
    assert isinstance(lk_output, llm.FunctionCallOutput)
    assert (lk_output.call_id, lk_output.output, lk_output.is_error) == ("call_1", "18C", False)
    assert from_livekit(lk_call) == call
    assert from_livekit(lk_output) == output
    # LiveKit's error flag and tool name are its own: the server keeps the text only.
    flagged = llm.FunctionCallOutput(
        id="out2", call_id="call_1", output="boom", is_error=True, name="get_weather"
    )
    assert from_livekit(flagged) == FunctionCallOutput(id="out2", call_id="call_1", output="boom")


def test_a_template_keeps_what_livekit_cannot_show() -> None:
    """Spoken audio and its length live only on accord's side: an untouched LiveKit copy
    converts back to the very item it came from, an edited one keeps them."""
    spoken = Message(id="a1", role="assistant", content="Hi, Ada", audio=True, audio_ms=1500)
    lk = to_livekit(spoken)
    assert from_livekit(lk, spoken) is spoken
    assert isinstance(lk, llm.ChatMessage)
    lk.content = ["Hi"]
    edited = from_livekit(lk, spoken)
    assert edited == Message(id="a1", role="assistant", content="Hi", audio=True, audio_ms=1500)
    # A spoken turn whose transcript has not come: LiveKit shows it empty, nothing changed.
    pending = Message(id="u5", role="user", content=None, audio=True)
    assert from_livekit(to_livekit(pending), pending) is pending


def test_view_is_what_a_livekit_writer_can_change() -> None:
    a = Message(id="x", role="assistant", content="same", audio=True, audio_ms=10)
    b = Message(id="y", role="assistant", content="same", audio=False)
    assert view(a) == view(b)
    assert view(a) != view(Message(id="x", role="assistant", content="other"))


def test_local_items_are_not_conversation_items() -> None:
    assert is_conversation_item(llm.ChatMessage(role="user", content=["hi"]))
    assert not is_conversation_item(llm.AgentConfigUpdate(instructions="x"))
    assert not is_conversation_item(llm.AgentHandoff(new_agent_id="b"))
    for instructions_id in INSTRUCTION_IDS:
        assert not is_conversation_item(
            llm.ChatMessage(id=instructions_id, role="system", content=["x"])
        )


def test_with_content_of_keeps_livekits_metadata() -> None:
    lk = llm.ChatMessage(
        id="old", role="assistant", content=["long text"], created_at=3.0, extra={"k": 1}
    )
    copy = with_content_of(lk, Message(id="new", role="assistant", content="short"))
    assert isinstance(copy, llm.ChatMessage)
    assert (copy.id, copy.content, copy.created_at, copy.extra) == ("new", ["short"], 3.0, {"k": 1})
    assert lk.id == "old"  # a copy: LiveKit's object is untouched


# -- audio ---------------------------------------------------------------------------------


def pcm16(samples: list[int]) -> bytes:
    return array.array("h", samples).tobytes()


def test_pcm_becomes_a_24khz_mono_frame_and_back() -> None:
    pcm = pcm16([0, 1000, -1000, 32767, -32768, 5])
    frame = frame_from_pcm(pcm + b"\x01")  # an odd trailing byte is no sample
    assert (frame.sample_rate, frame.num_channels, frame.samples_per_channel) == (SAMPLE_RATE, 1, 6)
    assert frame.data.tobytes() == pcm
    assert AudioInput().pcm(frame) == pcm


def test_an_audio_delta_becomes_a_frame() -> None:
    pcm = pcm16([1, 2, 3, 4])
    frame = frame_from_base64(base64.b64encode(pcm).decode())
    assert frame is not None and frame.data.tobytes() == pcm
    assert frame_from_base64("not base64!") is None


def test_room_audio_is_resampled_to_24khz_mono() -> None:
    """48 kHz stereo (a room's usual format) in, 24 kHz mono out: half the samples
    (less what the resampler holds back at first), the first channel kept."""
    audio = AudioInput()
    out = b""
    for _ in range(10):  # 10 x 10 ms
        stereo = pcm16([100, -100] * 480)
        out += audio.pcm(
            rtc.AudioFrame(data=stereo, sample_rate=48_000, num_channels=2, samples_per_channel=480)
        )
    samples = array.array("h", out)
    assert 1500 < len(samples) <= 2400
    assert all(abs(s - 100) <= 2 for s in samples[-200:])  # the left channel, settled


def test_a_commit_needs_more_than_100_ms_of_audio() -> None:
    audio = AudioInput()
    audio.pcm(frame_from_pcm(bytes(int(SAMPLE_RATE * 2 * MIN_COMMIT_SECONDS / 2))))
    assert not audio.committable()
    audio.pcm(frame_from_pcm(bytes(int(SAMPLE_RATE * 2 * MIN_COMMIT_SECONDS))))
    assert audio.committable()
    audio.reset()
    assert not audio.committable()
