"""`accord chat --audio-in/--audio-out/--mic` and :mod:`accord.audio_io`, end to end.

The WAV files are made here (the simulator's speech synthesizer, written with the
standard library's ``wave``); the reply comes back from the embedded simulator, whose
audio carries its own text, so the reply WAV can be checked for what it says. The
microphone test replaces ``sounddevice`` by a stand-in: no test needs the extra or a
sound card.
"""

from __future__ import annotations

import struct
import sys
import threading
import time
import types
import wave
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.audio_io import WavFormatError, WavSink, read_wav, write_wav
from accord.cli.main import app
from accord.items import Message
from accord.sim import audio

runner = CliRunner()
QUESTION = "when does the museum open tomorrow"


def wav_file(
    path: Path, pcm: bytes, *, rate: int = 24_000, channels: int = 1, width: int = 2
) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def reply_of(path: Path) -> tuple[wave._wave_params, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getparams(), wav.readframes(wav.getnframes())


def chat(*args: str | Path) -> Any:
    return runner.invoke(app, ["chat", "--sim", *map(str, args)])


# -- accord chat --audio-in / --audio-out ---------------------------------------------------


def test_a_spoken_question_from_a_wav_gets_a_spoken_reply_in_a_wav(tmp_path: Path) -> None:
    question = wav_file(tmp_path / "in.wav", audio.silence(300) + audio.synthesize(QUESTION))
    reply = tmp_path / "reply.wav"
    result = chat("--audio-in", question, "--audio-out", reply)
    assert result.exit_code == 0, result.output
    params, pcm = reply_of(reply)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 24_000)
    # "You said: <question>" at the simulator's 60 ms a character: about 2.6 s.
    assert 1_500 < audio.duration_ms(pcm) < 10_000
    assert audio.transcribe(pcm) == f"You said: {QUESTION}"
    assert f"you: {QUESTION}" in result.output  # both sides of the turn are printed
    assert f"assistant: You said: {QUESTION}" in result.output


def test_a_question_that_runs_a_tool_gets_the_follow_up_in_the_wav(tmp_path: Path) -> None:
    question = wav_file(tmp_path / "in.wav", audio.synthesize("what is the weather in Paris"))
    reply = tmp_path / "reply.wav"
    result = chat("--audio-in", question, "--audio-out", reply)
    assert result.exit_code == 0, result.output
    assert "get_weather" in result.output
    _params, pcm = reply_of(reply)
    said = audio.transcribe(pcm) or ""
    assert said.startswith("Done.") and "Paris" in said


def test_a_wav_at_another_rate_and_in_stereo_is_converted(tmp_path: Path) -> None:
    """16 kHz stereo: averaged and resampled, the speech is still heard as a turn (its
    embedded words do not survive resampling: the simulator transcribes a placeholder)."""
    mono = audio.synthesize(QUESTION)
    samples = struct.unpack(f"<{len(mono) // 2}h", mono)[::3]  # 24 kHz -> 8 kHz ...
    doubled = [s for s in samples for _ in range(2)]  # ... then 16 kHz by repetition
    stereo = struct.pack(f"<{2 * len(doubled)}h", *(s for s in doubled for _ in range(2)))
    question = wav_file(tmp_path / "in.wav", stereo, rate=16_000, channels=2)
    reply = tmp_path / "reply.wav"
    result = chat("--audio-in", question, "--audio-out", reply)
    assert result.exit_code == 0, result.output
    assert "you: " in result.output and QUESTION not in result.output
    _params, pcm = reply_of(reply)
    assert audio.duration_ms(pcm) > 500


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: wav_file(p, bytes(2400), width=1), "8-bit"),
        (lambda p: wav_file(p, bytes(4800), width=3), "24-bit"),
        (lambda p: p.write_bytes(b"this is not audio" * 10) and p, "not a 16-bit PCM WAV"),
        (lambda p: wav_file(p, b""), "no audio"),
    ],
    ids=["8-bit", "24-bit", "not-a-wav", "empty"],
)
def test_a_wav_accord_cannot_read_is_exit_2_with_the_reason(
    tmp_path: Path, make: Any, expected: str
) -> None:
    bad = make(tmp_path / "in.wav")
    result = chat("--audio-in", bad, "--audio-out", tmp_path / "reply.wav")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "reply.wav").exists()


def test_a_missing_wav_is_exit_2(tmp_path: Path) -> None:
    result = chat("--audio-in", tmp_path / "absent.wav")
    assert result.exit_code == 2, result.output
    assert "absent.wav" in result.output


def test_audio_out_needs_audio_in_or_mic(tmp_path: Path) -> None:
    result = chat("--audio-out", tmp_path / "reply.wav")
    assert result.exit_code == 2
    assert "--audio-in" in result.output


def test_audio_in_without_audio_out_prints_the_transcripts(tmp_path: Path) -> None:
    question = wav_file(tmp_path / "in.wav", audio.synthesize(QUESTION))
    result = chat("--audio-in", question)
    assert result.exit_code == 0, result.output
    assert f"assistant: You said: {QUESTION}" in result.output


# -- accord.audio_io -----------------------------------------------------------------------


def test_write_then_read_gives_the_same_pcm(tmp_path: Path) -> None:
    pcm = audio.synthesize("round trip")
    write_wav(tmp_path / "a.wav", pcm)
    assert read_wav(tmp_path / "a.wav") == pcm
    assert audio.transcribe(read_wav(tmp_path / "a.wav")) == "round trip"


def test_the_sink_writes_chunks_cut_anywhere(tmp_path: Path) -> None:
    pcm = audio.synthesize("chunked")
    with WavSink(tmp_path / "s.wav") as sink:
        for start in range(0, len(pcm), 333):  # odd sizes: samples cut in two
            sink.write(pcm[start : start + 333])
        assert sink.duration_ms == audio.duration_ms(pcm)
    assert read_wav(tmp_path / "s.wav") == pcm
    with pytest.raises(ValueError, match="closed"):
        sink.write(b"\x00\x00")


def test_resampling_keeps_the_duration(tmp_path: Path) -> None:
    for rate in (8_000, 16_000, 22_050, 44_100, 48_000):
        tone = b"\x10\x00" * rate  # one second at that rate
        pcm = read_wav(wav_file(tmp_path / f"{rate}.wav", tone, rate=rate))
        assert abs(audio.duration_ms(pcm) - 1_000) <= 1
        assert set(struct.unpack(f"<{len(pcm) // 2}h", pcm)) == {16}


def test_a_float_wav_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    data = bytes(400)
    fmt = struct.pack("<HHIIHH", 3, 1, 24_000, 96_000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(WavFormatError, match=r"float\.wav: not a 16-bit PCM WAV"):
        read_wav(path)


# -- accord chat --mic, with a stand-in for sounddevice ------------------------------------


class _FakeStream:
    """Calls back from a thread of its own, as PortAudio does, 20 ms blocks as fast as
    the test wants."""

    pause = 0.002  # seconds between blocks: ten times faster than real time

    def __init__(self, callback: Any, blocksize: int = 480, **settings: Any) -> None:
        assert settings["samplerate"] == 24_000
        assert settings["channels"] == 1
        assert settings["dtype"] == "int16"
        self.callback = callback
        self.block = 2 * (blocksize or 480)
        self.running = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.running.set()
        self.thread.start()

    def stop(self) -> None:
        self.running.clear()

    def close(self) -> None:
        self.thread.join(5)

    def _run(self) -> None:
        while self.running.is_set():
            self.step()
            time.sleep(self.pause)

    def step(self) -> None:
        raise NotImplementedError


def fake_sounddevice(
    utterance: bytes, *, speaker_pause: float = 0.002
) -> tuple[types.ModuleType, bytearray]:
    played = bytearray()
    heard = bytearray(utterance)

    class RawInputStream(_FakeStream):
        def step(self) -> None:
            chunk = bytes(heard[: self.block]).ljust(self.block, b"\x00")
            del heard[: self.block]
            self.callback(chunk, self.block // 2, None, None)

    class RawOutputStream(_FakeStream):
        pause = speaker_pause

        def step(self) -> None:
            out = bytearray(self.block)
            self.callback(out, self.block // 2, None, None)
            played.extend(out)

    module = types.ModuleType("sounddevice")
    module.RawInputStream = RawInputStream  # type: ignore[attr-defined]
    module.RawOutputStream = RawOutputStream  # type: ignore[attr-defined]
    return module, played


def test_the_microphone_is_heard_and_the_reply_played(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, played = fake_sounddevice(audio.synthesize(QUESTION) + audio.silence(100))
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    reply = tmp_path / "reply.wav"
    result = chat("--mic", "--turns", "1", "--audio-out", reply)
    assert result.exit_code == 0, result.output
    assert f"you: {QUESTION}" in result.output
    _params, pcm = reply_of(reply)
    assert audio.transcribe(pcm) == f"You said: {QUESTION}"
    assert audio.transcribe(bytes(played)) == f"You said: {QUESTION}"  # it was played


def test_the_microphone_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import raises ImportError
    result = chat("--mic")
    assert result.exit_code == 2, result.output
    assert "accord[voice]" in result.output
    assert isinstance(result.exception, SystemExit)


def test_mic_and_audio_in_exclude_each_other(tmp_path: Path) -> None:
    question = wav_file(tmp_path / "in.wav", audio.synthesize(QUESTION))
    result = chat("--mic", "--audio-in", question)
    assert result.exit_code == 2
    assert "--mic" in result.output and "--audio-in" in result.output


def test_sounddevice_without_portaudio_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Linux the wheel installs without PortAudio and fails at import (OSError)."""
    import accord.audio_devices as devices

    def no_portaudio(name: str) -> types.ModuleType:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(devices.importlib, "import_module", no_portaudio)
    result = chat("--mic")
    assert result.exit_code == 2, result.output
    assert "PortAudio" in result.output and "libportaudio2" in result.output


def test_no_sound_device_is_exit_2_with_portaudio_s_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("sounddevice")

    def no_device(**settings: Any) -> None:
        raise RuntimeError("Error querying device -1")  # PortAudioError on a bare host

    module.RawInputStream = no_device  # type: ignore[attr-defined]
    module.RawOutputStream = no_device  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    result = chat("--mic")
    assert result.exit_code == 2, result.output
    assert "cannot open the speaker: Error querying device -1" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "pause_ms",
    [3_000, 1_000],
    ids=["over-a-reply-streamed-whole", "over-a-reply-still-streaming"],
)
def test_speaking_over_a_reply_stops_it_and_cuts_it_where_it_was_heard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pause_ms: int
) -> None:
    """The user speaks over the reply. Usually it has streamed whole (the server sends
    faster than it plays): playback stops, and the chat cuts the server's item to what
    was heard (the runner's own barge-in only sees replies still streaming, and cancels
    and cuts those itself)."""
    import accord.cli.chat as chat_module
    from accord.sim.server import SimServer

    servers: list[SimServer] = []

    class KeptSimServer(SimServer):
        async def start(self) -> SimServer:
            servers.append(self)
            return await super().start()

    monkeypatch.setattr(chat_module, "SimServer", KeptSimServer)
    said = audio.synthesize(QUESTION) + audio.silence(pause_ms)
    said += audio.synthesize("no, stop") + audio.silence(800)
    # The speaker plays in real time: 20 ms blocks every 20 ms.
    module, played = fake_sounddevice(said, speaker_pause=0.02)
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    reply = tmp_path / "reply.wav"
    result = chat("--mic", "--turns", "2", "--audio-out", reply)
    assert result.exit_code == 0, result.output
    assert "you: no, stop" in result.output

    _params, recorded = reply_of(reply)  # everything that streamed
    assert (audio.transcribe(recorded) or "").endswith("You said: no, stop")
    heard = sum(1 for i in range(0, len(played), 2) if played[i : i + 2] != b"\x00\x00")
    streamed = sum(1 for i in range(0, len(recorded), 2) if recorded[i : i + 2] != b"\x00\x00")
    assert heard < 0.8 * streamed  # the first reply stopped playing
    [first, *_] = [
        i
        for i in servers[0].sessions[0].store.items()
        if isinstance(i, Message) and i.role == "assistant"
    ]
    assert first.interrupted or QUESTION not in first.text  # the server's copy was cut
