"""The simulator's audio toolkit: self-transcribing speech and the energy VAD.

The round-trip tests check the property the simulator depends on: text synthesized in one
process is recovered from the audio alone in another, however the audio was framed on the
way (silence and other audio around it, cuts at even offsets, a VAD segment with prefix
padding). The VAD tests check the ``server_vad`` semantics of docs/protocol-notes.md "User audio"
and "Interruptions": one started/stopped pair per utterance, padded starts, chunking
invariance.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.sim.audio import (
    BYTES_PER_MS,
    FRAME_MS,
    GAP_MS,
    EnergyVad,
    VadEvent,
    duration_ms,
    find_frames,
    rms,
    silence,
    synthesize,
    threshold_to_rms,
    tone,
    transcribe,
)

LONG = ("The quick brown fox jumps over the lazy dog; " * 7)[:300]
TEXTS = ["hello", "héllo, ça va? naïve café", "emoji 😀 ok 👍🏽", "x", "😀", LONG]


def _flip_lsb(pcm: bytes, offset: int) -> bytes:
    """Corrupt the low byte at ``offset`` (even: the sample's LSB flips with it)."""
    corrupted = bytearray(pcm)
    corrupted[offset] ^= 0xFF
    return bytes(corrupted)


# --- primitives -----------------------------------------------------------------------


def test_primitives() -> None:
    assert silence(250) == bytes(250 * BYTES_PER_MS)
    assert duration_ms(silence(250)) == 250
    assert duration_ms(tone(123)) == 123
    assert rms(silence(10)) == 0.0
    assert rms(b"") == 0.0
    assert rms(tone(100, amplitude=8000)) == pytest.approx(8000 / 2**0.5, rel=0.01)
    with pytest.raises(ValueError):
        silence(-1)


def test_threshold_mapping_is_monotonic_in_decibels() -> None:
    assert threshold_to_rms(0.0) == pytest.approx(32.768)
    assert threshold_to_rms(1.0) == pytest.approx(32768)
    assert threshold_to_rms(0.5) == pytest.approx(1036.2, abs=0.1)


# --- synthesis ------------------------------------------------------------------------


def test_synthesize_is_deterministic_and_seeded() -> None:
    assert synthesize("same text") == synthesize("same text")
    assert synthesize("same text", seed=1) != synthesize("same text", seed=2)
    assert transcribe(synthesize("same text", seed=7)) == "same text"


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [("hello there, how are you doing today?", 37 * 60), ("a", 300), (LONG, 300 * 60)],
)
def test_duration_follows_text_length(text: str, expected_ms: int) -> None:
    assert abs(duration_ms(synthesize(text)) - expected_ms) <= expected_ms * 0.05


def test_speech_is_loud_and_gaps_are_quiet() -> None:
    """Every 20 ms frame of a word clears the default threshold; gaps stay far below."""
    level = threshold_to_rms(0.5)
    word = synthesize("word", ms_per_char=100)  # one word, 400 ms
    frames = [word[i : i + 960] for i in range(0, len(word) - 959, 960)]
    assert min(rms(frame) for frame in frames) > 2 * level
    two = synthesize("ab cd", ms_per_char=100)  # words of 190 ms, then the gap
    gap = two[200 * BYTES_PER_MS : (200 + 100) * BYTES_PER_MS]
    assert rms(gap) < threshold_to_rms(0.0)


def test_text_too_long_to_embed() -> None:
    with pytest.raises(ValueError, match="too long"):
        synthesize("x" * 70_000, ms_per_char=0)


# --- transcription round trips --------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(text: str) -> None:
    speech = synthesize(text)
    assert transcribe(speech) == text
    assert transcribe(silence(500) + speech + silence(700)) == text
    assert transcribe(tone(300) + speech + tone(400, freq=300.0)) == text
    assert transcribe(speech[100 * BYTES_PER_MS :]) == text  # lost its first 100 ms
    assert transcribe(speech[: -100 * BYTES_PER_MS]) == text  # and its last 100 ms


@pytest.mark.parametrize("text", ["hello", "emoji 😀", LONG])
def test_round_trip_with_cuts_at_even_offsets(text: str) -> None:
    lead = 200 * BYTES_PER_MS
    pcm = silence(200) + synthesize(text) + silence(200)
    for cut in [2, 4, 98, lead - 2, lead, lead + 2, lead + 1000, lead + 50 * BYTES_PER_MS]:
        assert transcribe(pcm[cut:]) == text, cut


def test_odd_cut_is_realigned() -> None:
    assert transcribe(silence(10)[:-1] + synthesize("odd")) == "odd"


def test_unknown_audio_is_none() -> None:
    assert transcribe(tone(1000)) is None
    assert transcribe(tone(1000, freq=123.4, amplitude=20000)) is None
    assert transcribe(silence(1000)) is None
    assert transcribe(b"") is None
    assert transcribe(b"\x01") is None


def test_corrupted_payload_fails_crc() -> None:
    speech = synthesize("corrupt me")
    frames = find_frames(speech)
    assert len(frames) >= 3
    assert all(frame.text == "corrupt me" for frame in frames)
    payload_offset = 2 * (32 + 16 + 5)  # marker and length bits, then into the payload
    first = _flip_lsb(speech, frames[0].start + payload_offset)
    assert [f.start for f in find_frames(first)] == [f.start for f in frames[1:]]
    assert transcribe(first) == "corrupt me"  # another copy survives
    every = speech
    for frame in frames:
        every = _flip_lsb(every, frame.start + payload_offset)
    assert find_frames(every) == []
    assert transcribe(every) is None


def test_several_utterances_are_joined() -> None:
    pcm = synthesize("first one") + silence(300) + synthesize("second", seed=3)
    assert transcribe(pcm) == "first one second"


@settings(max_examples=30, deadline=None)
@given(
    text=st.text(max_size=40),
    seed=st.integers(min_value=0, max_value=2**32),
    ms_per_char=st.integers(min_value=0, max_value=40),
    lead_ms=st.integers(min_value=0, max_value=200),
)
def test_round_trip_property(text: str, seed: int, ms_per_char: int, lead_ms: int) -> None:
    speech = synthesize(text, ms_per_char=ms_per_char, seed=seed)
    assert duration_ms(speech) >= 300
    assert transcribe(tone(lead_ms) + speech + silence(50)) == text


# --- VAD ------------------------------------------------------------------------------


def test_one_utterance_one_pair_with_timing() -> None:
    speech = synthesize("hello there, general")
    speech_ms = duration_ms(speech)
    vad = EnergyVad()
    events = vad.feed(silence(1000) + speech + silence(1000))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]
    assert abs(events[0].audio_ms - (1000 - 300)) <= FRAME_MS
    assert abs(events[1].audio_ms - (1000 + speech_ms)) <= FRAME_MS
    assert vad.position_ms == 2000 + speech_ms
    assert not vad.speaking
    segment = vad.take_segment()
    assert segment is not None
    assert duration_ms(segment) == events[1].audio_ms - events[0].audio_ms
    assert transcribe(segment) == "hello there, general"
    assert vad.take_segment() is None


@pytest.mark.parametrize("lead_ms", [1000, 1007, 1013])
def test_timing_off_the_frame_grid(lead_ms: int) -> None:
    speech = synthesize("misaligned start", seed=lead_ms)
    events = EnergyVad(prefix_padding_ms=0).feed(silence(lead_ms) + speech + silence(600))
    assert events[0].audio_ms <= lead_ms + FRAME_MS
    assert events[0].audio_ms >= lead_ms - FRAME_MS
    assert abs(events[1].audio_ms - (lead_ms + duration_ms(speech))) <= FRAME_MS


def test_stopped_waits_for_the_silence_window() -> None:
    vad = EnergyVad(silence_duration_ms=500)
    assert [e.kind for e in vad.feed(silence(400) + synthesize("wait"))] == ["speech_started"]
    assert vad.speaking
    assert vad.feed(silence(480)) == []
    assert [e.kind for e in vad.feed(silence(40))] == ["speech_stopped"]


def test_two_utterances_give_two_pairs() -> None:
    one, two = synthesize("first utterance"), synthesize("second one", seed=1)
    vad = EnergyVad()
    events = vad.feed(silence(500) + one + silence(1000) + two + silence(800))
    kinds = [e.kind for e in events]
    assert kinds == ["speech_started", "speech_stopped"] * 2
    second_start = 500 + duration_ms(one) + 1000
    assert abs(events[2].audio_ms - (second_start - 300)) <= FRAME_MS
    assert transcribe(vad.take_segment() or b"") == "first utterance"
    assert transcribe(vad.take_segment() or b"") == "second one"


def test_padding_stops_at_the_previous_segment() -> None:
    vad = EnergyVad(prefix_padding_ms=300, silence_duration_ms=200)
    events = vad.feed(silence(100) + tone(400) + silence(260) + tone(200) + silence(300))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"] * 2
    assert events[0].audio_ms == 0  # not below 0
    assert events[1].audio_ms == 500
    assert events[2].audio_ms == 500  # 760 - 300 would reach into the first segment
    assert events[3].audio_ms == 960


def test_word_gaps_do_not_split_an_utterance() -> None:
    text = "one two three four five six"
    assert GAP_MS == 120
    events = EnergyVad().feed(silence(600) + synthesize(text) + silence(600))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]


def test_threshold_changes_what_counts_as_speech() -> None:
    quiet = tone(500, amplitude=500)  # about -36 dBFS
    assert EnergyVad(threshold=0.5).feed(quiet + silence(600)) == []
    kinds = [e.kind for e in EnergyVad(threshold=0.3).feed(quiet + silence(600))]
    assert kinds == ["speech_started", "speech_stopped"]
    with pytest.raises(ValueError):
        EnergyVad(threshold=1.5)


def test_clear_drops_speech_in_progress() -> None:
    vad = EnergyVad()
    vad.feed(silence(500) + synthesize("dropped") + silence(10))
    assert vad.speaking
    vad.clear()
    assert not vad.speaking
    assert vad.take_segment() is None
    position = vad.position_ms
    events = vad.feed(silence(100) + synthesize("kept", seed=2) + silence(600))
    assert events[0].audio_ms == position  # padding does not reach before the clear
    assert transcribe(vad.take_segment() or b"") == "kept"


CHUNKED = silence(370) + synthesize("one two", ms_per_char=40) + silence(700)
CHUNKED += synthesize("three", seed=5) + silence(550) + tone(90) + silence(610)


def _run(chunks: list[bytes]) -> tuple[list[VadEvent], list[bytes]]:
    vad = EnergyVad(prefix_padding_ms=250)
    events = [event for chunk in chunks for event in vad.feed(chunk)]
    segments: list[bytes] = []
    while (segment := vad.take_segment()) is not None:
        segments.append(segment)
    return events, segments


WHOLE = _run([CHUNKED])


def test_chunked_reference_has_three_segments() -> None:
    events, segments = WHOLE
    assert len(events) == 6
    assert [transcribe(s) for s in segments] == ["one two", "three", None]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(CHUNKED)), max_size=30))
def test_chunking_invariance(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(CHUNKED)]
    chunks = [CHUNKED[a:b] for a, b in itertools.pairwise(bounds)]
    assert _run(chunks) == WHOLE
