"""WAV files in and out, in the one audio format the session speaks.

The Realtime API's ``audio/pcm`` format, in both directions, is raw PCM16: signed 16-bit
little-endian samples, mono, 24,000 Hz (48 bytes per millisecond). That is what
``runner.speak`` / ``session.push_audio`` take and what ``generation.audio`` yields.
This module turns WAV files into that and back, with the standard library's :mod:`wave`
only, so it needs no extra package:

- :func:`read_wav` reads a 16-bit PCM WAV of any rate and channel count and returns
  24 kHz mono (channels averaged, the rate converted by linear interpolation, good for
  speech, not for music). Anything else (8/24/32-bit, float, µ-law, not a WAV at all) is
  a :class:`WavFormatError` that says what the file is and what is needed: converting
  those is the job of an audio tool (``sox in.wav -b 16 out.wav``), not a guess here.
- :func:`write_wav` writes PCM16 24 kHz mono to a file at once; :class:`WavSink` writes
  it as it streams (``async for chunk in generation.audio: sink.write(chunk)``), so a
  long reply is never held whole, and the header is right even if the reply was cut.
"""

from __future__ import annotations

import sys
import wave
from array import array
from collections.abc import AsyncIterable
from pathlib import Path
from types import TracebackType

SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2  # bytes: PCM16
CHANNELS = 1
BYTES_PER_MS = SAMPLE_RATE // 1000 * SAMPLE_WIDTH * CHANNELS  # 48


class WavFormatError(ValueError):
    """A file that is not a WAV this module can read: says which file and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def read_wav(path: str | Path) -> bytes:
    """The file's audio as PCM16 little-endian mono at 24 kHz.

    A 16-bit PCM WAV at another rate or with several channels is converted (channels
    averaged, linear interpolation between samples). Raises :class:`WavFormatError` for
    any other sample width or encoding, a file that is not a WAV or has no audio, and
    :class:`OSError` (e.g. ``FileNotFoundError``) when it cannot be opened.
    """
    try:
        # Opened here, not by wave.open(path): see WavSink.__init__.
        with open(path, "rb") as file, wave.open(file, "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except wave.Error as exc:
        # wave's own wording, e.g. "unknown format: 3" for 32-bit float.
        raise WavFormatError(path, f"not a 16-bit PCM WAV file ({exc})") from exc
    except EOFError as exc:
        raise WavFormatError(path, "not a WAV file (it ends inside its header)") from exc
    if width != SAMPLE_WIDTH:
        raise WavFormatError(
            path,
            f"{8 * width}-bit samples; accord reads 16-bit PCM WAV files only "
            "(convert it first, e.g. `sox in.wav -b 16 out.wav`)",
        )
    if rate <= 0 or channels <= 0:
        raise WavFormatError(path, f"a header with {rate} Hz and {channels} channels")
    samples = _samples(frames[: len(frames) - len(frames) % (width * channels)])
    if not samples:
        raise WavFormatError(path, "no audio in it")
    if channels > 1:
        samples = _downmix(samples, channels)
    if rate != SAMPLE_RATE:
        samples = _resample(samples, rate, SAMPLE_RATE)
    return _to_bytes(samples)


def write_wav(path: str | Path, pcm: bytes) -> None:
    """Write PCM16 mono 24 kHz audio (e.g. ``await generation.collect_audio()``) as a
    WAV file, replacing the file if it exists."""
    with WavSink(path) as sink:
        sink.write(pcm)


class WavSink:
    """A WAV file written as PCM16 mono 24 kHz audio arrives.

    Use it as a context manager (or call :meth:`close`): :mod:`wave` writes the final
    lengths into the header when the file is closed. A chunk cut in the middle of a
    sample keeps its odd byte until the next chunk completes it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # The file is opened here, not by wave.open(path): that leaves a half-built
        # writer whose __del__ prints a traceback when the path cannot be opened. Both
        # are closed by close() / __exit__, as the sink outlives its maker's block.
        self._file = open(self.path, "wb")  # noqa: SIM115
        self._wav: wave.Wave_write | None = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(CHANNELS)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(SAMPLE_RATE)
        self._odd = b""
        self.bytes_written = 0

    @property
    def duration_ms(self) -> int:
        """How long the audio written so far plays."""
        return self.bytes_written // BYTES_PER_MS

    def write(self, pcm: bytes) -> None:
        if self._wav is None:
            raise ValueError(f"{self.path}: the WAV file is closed")
        data = self._odd + pcm
        whole = len(data) - len(data) % SAMPLE_WIDTH
        self._odd = data[whole:]
        if whole:
            self._wav.writeframes(data[:whole])
            self.bytes_written += whole

    async def write_stream(self, chunks: AsyncIterable[bytes]) -> int:
        """Write every chunk of a stream (``generation.audio``) until it ends; returns
        the bytes written by this call."""
        before = self.bytes_written
        async for chunk in chunks:
            self.write(chunk)
        return self.bytes_written - before

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()  # writes the lengths; a trailing half sample is dropped
            self._wav = None
            self._file.close()

    def __enter__(self) -> WavSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- conversion ----------------------------------------------------------------------------


def _samples(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":  # WAV and the Realtime API are little-endian
        samples.byteswap()
    return samples


def _to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def _downmix(samples: array[int], channels: int) -> array[int]:
    """Interleaved frames to mono: the mean of each frame's channels."""
    return array(
        "h",
        (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)),
    )


def _resample(samples: array[int], rate: int, target: int) -> array[int]:
    """Linear interpolation to ``target`` Hz. Going down by a factor of two or more,
    each group of that many input samples is averaged first (a box filter), so high
    frequencies fold back less; speech keeps its words and levels, which is what a
    speech model needs (music would want a real filter)."""
    effective: float = rate
    span = rate // target
    if span > 1:
        samples = array(
            "h",
            (
                sum(samples[i : i + span]) // len(samples[i : i + span])
                for i in range(0, len(samples), span)
            ),
        )
        effective = rate / span
    count = max(1, round(len(samples) * target / effective))
    step = effective / target
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for n in range(count):
        position = n * step
        i = int(position)
        if i >= last:
            out[n] = samples[last]
            continue
        fraction = position - i
        out[n] = round(samples[i] + (samples[i + 1] - samples[i]) * fraction)
    return out
