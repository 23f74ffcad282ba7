"""The simulator's audio toolkit: speech-like PCM that carries its own transcript, and a VAD.

The simulator has no speech model, yet it must transcribe the user's audio, and that audio
may have been synthesized in another process (a test, a client under test) than the one
that transcribes it. So the text travels inside the audio: :func:`synthesize` writes a
frame (sync marker, 16-bit length, UTF-8 payload, CRC32) into the least significant bit of
the utterance's samples, repeated back to back, and :func:`transcribe` finds any intact copy
anywhere in a buffer. An LSB changes a sample by at most 1 (-90 dBFS): inaudible, and
invisible to any energy VAD. Audio without a valid frame transcribes to ``None``.

:class:`EnergyVad` turns a stream of audio into ``speech_started`` / ``speech_stopped``
events with the parameters of the Realtime API's ``server_vad`` turn detection, and keeps
each segment's audio so the simulator can commit it as a user item.

Format everywhere: PCM16 little-endian mono at 24 kHz, the Realtime API's default
``audio/pcm``. No I/O, no asyncio, no clock: time is counted in audio.
"""

from __future__ import annotations

import math
import random
import sys
import zlib
from array import array
from collections import deque
from dataclasses import dataclass
from operator import mul
from typing import Literal

SAMPLE_RATE = 24_000
BYTES_PER_MS = 48  # 24 samples of 2 bytes
SAMPLES_PER_MS = SAMPLE_RATE // 1000
FULL_SCALE = 32_768

# Synthesis. Gaps stay far below a VAD silence window (500 ms by default), so the words of
# one text make one utterance; a word lasts at least a few VAD frames, so it is detected.
GAP_MS = 120
MIN_UTTERANCE_MS = 300
MIN_WORD_MS = 80
FADE_MS = 5  # ramp at each word edge, so words start and end without clicks
SPEECH_PEAK = 9_000  # peak before noise: about -20 dBFS RMS, conversational level
_HARMONICS = (1, 2, 3, 4)
_MIN_COPIES = 3  # the utterance holds at least this many frames ...
_SPARE_MS = 100  # ... plus this much, so losing an edge still leaves an intact copy

# The embedded frame: marker, length, payload, CRC32 (of length + payload), MSB first.
_MARKER = b"\xac\xc0\x4d\x5b"
MAX_TEXT_BYTES = 2**16 - 1
_HEADER_BITS = 8 * len(_MARKER) + 16
_CRC_BITS = 32
_LSB = bytes(value & 1 for value in range(256))  # low byte -> its bit, as byte 0 or 1
_ASCII_BITS = bytes.maketrans(b"\x00\x01", b"01")


def silence(ms: int) -> bytes:
    """Digital silence: ``ms`` milliseconds of zero samples."""
    if ms < 0:
        raise ValueError(f"negative duration: {ms} ms")
    return bytes(ms * BYTES_PER_MS)


def duration_ms(pcm: bytes) -> int:
    """How long ``pcm`` plays, in whole milliseconds."""
    return len(pcm) // BYTES_PER_MS


def tone(ms: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """A plain sine: loud enough to count as speech for the VAD, but carries no text."""
    if ms < 0:
        raise ValueError(f"negative duration: {ms} ms")
    step = 2 * math.pi * freq / SAMPLE_RATE
    return _to_bytes([round(amplitude * math.sin(step * i)) for i in range(ms * SAMPLES_PER_MS)])


def rms(pcm: bytes) -> float:
    """Root mean square of the samples (0.0 for no audio); full scale is 32768."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(map(mul, samples, samples)) / len(samples))


def _samples(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: list[int]) -> bytes:
    packed = array("h", samples)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


# --- synthesis ------------------------------------------------------------------------


def synthesize(text: str, *, ms_per_char: int = 60, seed: int = 0) -> bytes:
    """Speech-like PCM16 for ``text``, from which :func:`transcribe` recovers ``text``.

    One voiced segment per word (a few harmonics of a per-word pitch under a syllable-rate
    envelope, plus a little noise), separated by :data:`GAP_MS` of near-silence. The whole
    lasts about ``len(text) * ms_per_char`` ms, at least :data:`MIN_UTTERANCE_MS`, and
    longer when needed to hold three copies of the frame. There is no
    silence before the first word or after the last: add it with :func:`silence`.
    The same text and seed always give the same bytes.
    """
    if ms_per_char < 0:
        raise ValueError(f"negative ms_per_char: {ms_per_char}")
    frame = _frame_bits(text)
    rng = random.Random(seed)
    samples: list[int] = []
    for index, word_ms in enumerate(_plan_words(text, ms_per_char, len(frame))):
        if index:
            samples.extend((byte - 128) // 16 for byte in rng.randbytes(GAP_MS * SAMPLES_PER_MS))
        samples.extend(_voiced(word_ms, rng))
    return _to_bytes(_embed(samples, frame))


def _plan_words(text: str, ms_per_char: int, frame_bits: int) -> list[int]:
    """Voiced milliseconds per word, in proportion to the words' lengths."""
    lengths = [len(word) for word in text.split()] or [max(len(text), 1)]
    gaps_ms = GAP_MS * (len(lengths) - 1)
    voiced_ms = max(len(text) * ms_per_char, MIN_UTTERANCE_MS) - gaps_ms
    total_chars = sum(lengths)
    plan = [max(MIN_WORD_MS, round(voiced_ms * n / total_chars)) for n in lengths]
    needed_ms = math.ceil(_MIN_COPIES * frame_bits / SAMPLES_PER_MS) + _SPARE_MS
    plan[-1] += max(0, needed_ms - sum(plan) - gaps_ms)
    return plan


def _voiced(ms: int, rng: random.Random) -> list[int]:
    """One word: a pitch period tiled under an envelope computed once per millisecond."""
    count = ms * SAMPLES_PER_MS
    period = rng.randint(SAMPLE_RATE // 220, SAMPLE_RATE // 100)  # pitch 100..220 Hz
    wave = [
        sum(math.sin(2 * math.pi * k * i / period) / k for k in _HARMONICS) for i in range(period)
    ]
    peak = max(abs(value) for value in wave)
    table = [value / peak for value in wave]
    rate = rng.uniform(3.5, 5.5)  # syllables per second
    envelope = [
        SPEECH_PEAK
        * (0.55 + 0.45 * math.sin(math.pi * rate * t / 1000) ** 2)
        * min(1.0, t / FADE_MS, (ms - t) / FADE_MS)
        for t in range(ms)
    ]
    noise = rng.randbytes(count)
    return [
        round(table[i % period] * envelope[i // SAMPLES_PER_MS]) + noise[i] - 128
        for i in range(count)
    ]


def _frame_bits(text: str) -> bytes:
    """The frame for ``text``, one bit per byte (0 or 1), most significant bit first."""
    payload = text.encode()
    if len(payload) > MAX_TEXT_BYTES:
        raise ValueError(f"text too long to embed: {len(payload)} UTF-8 bytes")
    body = len(payload).to_bytes(2, "big") + payload
    data = _MARKER + body + zlib.crc32(body).to_bytes(4, "big")
    return bytes((byte >> shift) & 1 for byte in data for shift in range(7, -1, -1))


def _embed(samples: list[int], frame: bytes) -> list[int]:
    """Write as many whole copies of ``frame`` as fit, back to back, into the LSBs."""
    bits = frame * (len(samples) // len(frame))
    marked = [(sample & ~1) | bit for sample, bit in zip(samples[: len(bits)], bits, strict=True)]
    return marked + samples[len(bits) :]


# --- transcription --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmbeddedText:
    """One intact frame found in a buffer; ``start``/``end`` are byte offsets into it."""

    text: str
    start: int
    end: int


_MARKER_BITS = _frame_bits("")[: 8 * len(_MARKER)]


def find_frames(pcm: bytes) -> list[EmbeddedText]:
    """Every intact frame in ``pcm``, in order (usually several copies of one text).

    The buffer may start at any even byte offset; if nothing is found, the odd alignment is
    tried too, for a buffer cut in the middle of a sample.
    """
    for shift in (0, 1):
        bits = pcm[shift : len(pcm) - (len(pcm) - shift) % 2 : 2].translate(_LSB)
        found: list[EmbeddedText] = []
        pos = bits.find(_MARKER_BITS)
        while pos >= 0:
            frame = _parse_frame(bits, pos)
            if frame is None:
                pos = bits.find(_MARKER_BITS, pos + 1)
                continue
            text, end = frame
            found.append(EmbeddedText(text, shift + 2 * pos, shift + 2 * end))
            pos = bits.find(_MARKER_BITS, end)
        if found:
            return found
    return []


def _parse_frame(bits: bytes, start: int) -> tuple[str, int] | None:
    """The text and end of the frame whose marker is at ``start``, if its CRC holds."""
    body_start = start + len(_MARKER_BITS)
    length_bits = bits[body_start : start + _HEADER_BITS]
    if len(length_bits) < 16:
        return None
    length = int(length_bits.translate(_ASCII_BITS), 2)
    body_end = start + _HEADER_BITS + 8 * length
    end = body_end + _CRC_BITS
    if end > len(bits):
        return None
    body = int(bits[body_start:body_end].translate(_ASCII_BITS), 2).to_bytes(2 + length, "big")
    if zlib.crc32(body) != int(bits[body_end:end].translate(_ASCII_BITS), 2):
        return None
    try:
        return body[2:].decode(), end
    except UnicodeDecodeError:
        return None


def transcribe(pcm: bytes) -> str | None:
    """The text embedded in ``pcm`` by :func:`synthesize`, or ``None`` for unknown audio.

    Repeated copies of one text count once; a buffer holding several utterances (a manual
    commit) gives their texts joined by a space. Two adjacent utterances of the same text
    therefore read as one.
    """
    texts: list[str] = []
    for frame in find_frames(pcm):
        if not texts or texts[-1] != frame.text:
            texts.append(frame.text)
    return " ".join(texts) if texts else None


def is_silent(pcm: bytes, threshold: float = 0.5) -> bool:
    """No 20 ms frame of ``pcm`` is loud enough for a VAD at ``threshold`` to hear it."""
    level = threshold_to_rms(threshold)
    frame = 20 * BYTES_PER_MS
    return all(rms(pcm[at : at + frame]) <= level for at in range(0, len(pcm), frame))


def placeholder_transcript(ms: int) -> str:
    """What the simulator transcribes for audio it did not synthesize (it recognises no
    speech): the same words for the same duration, so a run replays identically."""
    return f"[{ms / 1000:.1f} s of speech]"


# --- voice activity detection ---------------------------------------------------------

FRAME_MS = 20
_FRAME_BYTES = FRAME_MS * BYTES_PER_MS


def threshold_to_rms(threshold: float) -> float:
    """The RMS level a ``server_vad`` threshold stands for: -60 dBFS at 0, 0 dBFS at 1.

    Linear in decibels, like the API's "higher threshold needs louder audio"; the default
    0.5 is -30 dBFS (about 1036), 10 dB below :func:`synthesize`'s speech and far above
    its gaps.
    """
    return FULL_SCALE * 10 ** (3 * (threshold - 1))


@dataclass(frozen=True, slots=True)
class VadEvent:
    """A turn-detection event; ``audio_ms`` counts from the first audio of the session.

    ``speech_started`` carries the padded start of the segment (``audio_start_ms``),
    ``speech_stopped`` the moment the silence began (``audio_end_ms``).
    """

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: int


class EnergyVad:
    """Server VAD on 20 ms frames: a frame is speech when its RMS exceeds the threshold.

    Speech starts at the first loud frame; the event reports that time minus
    ``prefix_padding_ms``, but never before 0 nor before the end of the previous segment.
    Speech stops once ``silence_duration_ms`` of quiet frames has passed; the event reports
    when the quiet began. Each completed segment's audio, from padded start to end, is
    queued for :meth:`take_segment`. Events depend only on the audio, not on how it was
    chunked: odd-sized chunks wait in a buffer until a whole frame is there.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1: {threshold}")
        if prefix_padding_ms < 0 or silence_duration_ms < 0:
            raise ValueError("prefix_padding_ms and silence_duration_ms must be >= 0")
        self.threshold = threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.level = threshold_to_rms(threshold)
        self._pending = bytearray()  # less than a frame, waiting for more
        self._now_ms = 0  # start of the next frame
        self._kept = bytearray()  # processed audio that a segment may still need ...
        self._kept_ms = 0  # ... starting at this time
        self._floor_ms = 0  # a padded start may not reach before this
        self._start_ms: int | None = None  # padded start of the segment in progress
        self._quiet_ms: int | None = None  # when the current silence within speech began
        self._segments: deque[bytes] = deque()

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio fed since the start, cleared audio included."""
        return self._now_ms + len(self._pending) // BYTES_PER_MS

    @property
    def speaking(self) -> bool:
        """Whether a segment has started and not yet stopped."""
        return self._start_ms is not None

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Append audio; return the events its whole frames caused, in order."""
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % _FRAME_BYTES
        events: list[VadEvent] = []
        for offset in range(0, whole, _FRAME_BYTES):
            event = self._frame(bytes(self._pending[offset : offset + _FRAME_BYTES]))
            if event is not None:
                events.append(event)
        del self._pending[:whole]
        return events

    def take_segment(self) -> bytes | None:
        """The oldest completed segment not yet taken (one per ``speech_stopped``)."""
        return self._segments.popleft() if self._segments else None

    def clear(self) -> None:
        """Forget uncommitted audio (``input_audio_buffer.clear``); time keeps counting.

        A segment in progress is dropped without a ``speech_stopped``; completed segments
        not yet taken stay queued. Padding will not reach back before this point.
        """
        self._now_ms += len(self._pending) // BYTES_PER_MS
        self._pending.clear()
        self._kept.clear()
        self._kept_ms = self._floor_ms = self._now_ms
        self._start_ms = self._quiet_ms = None

    def _frame(self, frame: bytes) -> VadEvent | None:
        now = self._now_ms
        self._now_ms += FRAME_MS
        self._kept += frame
        loud = rms(frame) > self.level
        if self._start_ms is None:
            if loud:
                self._start_ms = max(now - self.prefix_padding_ms, self._floor_ms)
                return VadEvent("speech_started", self._start_ms)
            self._trim()
            return None
        if loud:
            self._quiet_ms = None
            return None
        if self._quiet_ms is None:
            self._quiet_ms = now
        if self._now_ms - self._quiet_ms < self.silence_duration_ms:
            return None
        end = self._quiet_ms
        first, last = (self._start_ms - self._kept_ms), (end - self._kept_ms)
        self._segments.append(bytes(self._kept[first * BYTES_PER_MS : last * BYTES_PER_MS]))
        self._floor_ms = end
        self._start_ms = self._quiet_ms = None
        self._trim()
        return VadEvent("speech_stopped", end)

    def _trim(self) -> None:
        """Drop audio that no future segment can include, so memory stays bounded."""
        keep_from = max(self._now_ms - self.prefix_padding_ms, self._floor_ms)
        if keep_from > self._kept_ms:
            del self._kept[: (keep_from - self._kept_ms) * BYTES_PER_MS]
            self._kept_ms = keep_from
