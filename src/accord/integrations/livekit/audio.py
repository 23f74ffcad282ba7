"""LiveKit audio frames <-> the Realtime API's PCM16, mono, 24 kHz.

LiveKit hands the session whatever its input produces (48 kHz from a room, stereo
sometimes); the Realtime API takes 24 kHz mono PCM16. :class:`AudioInput` resamples
when needed and counts what it sent, because a commit of less than 100 ms of audio is
refused by the server (docs/protocol-notes.md) and LiveKit commits on its own schedule.
"""

from __future__ import annotations

import base64
import binascii

from livekit import rtc

SAMPLE_RATE = 24_000
NUM_CHANNELS = 1
BYTES_PER_SAMPLE = 2
MIN_COMMIT_SECONDS = 0.1  # the server refuses to commit less audio than this


def frame_from_pcm(pcm: bytes) -> rtc.AudioFrame:
    """A LiveKit frame holding 24 kHz mono PCM16 (an odd trailing byte is dropped)."""
    usable = pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE]
    return rtc.AudioFrame(
        data=usable,
        sample_rate=SAMPLE_RATE,
        num_channels=NUM_CHANNELS,
        samples_per_channel=len(usable) // BYTES_PER_SAMPLE,
    )


def frame_from_base64(chunk: str) -> rtc.AudioFrame | None:
    """A frame from an ``output_audio.delta`` payload, None when it is not base64."""
    try:
        return frame_from_pcm(base64.b64decode(chunk, validate=True))
    except (binascii.Error, ValueError):
        return None


class AudioInput:
    """Frames in, 24 kHz mono PCM16 out; remembers how much has not been committed."""

    def __init__(self) -> None:
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate: int | None = None
        self.pending_seconds = 0.0

    def pcm(self, frame: rtc.AudioFrame) -> bytes:
        """The frame as 24 kHz mono PCM16 (resampled when it is anything else)."""
        if frame.sample_rate == SAMPLE_RATE and frame.num_channels == NUM_CHANNELS:
            self._resampler = None
            out = [frame]
        else:
            if self._resampler is None or self._resampler_rate != frame.sample_rate:
                self._resampler = rtc.AudioResampler(
                    input_rate=frame.sample_rate,
                    output_rate=SAMPLE_RATE,
                    num_channels=NUM_CHANNELS,
                )
                self._resampler_rate = frame.sample_rate
            out = self._resampler.push(_mono(frame))
        data = b"".join(f.data.tobytes() for f in out)
        self.pending_seconds += len(data) / (SAMPLE_RATE * NUM_CHANNELS * BYTES_PER_SAMPLE)
        return data

    def committable(self) -> bool:
        return self.pending_seconds > MIN_COMMIT_SECONDS

    def reset(self) -> None:
        self.pending_seconds = 0.0


def _mono(frame: rtc.AudioFrame) -> rtc.AudioFrame:
    """Keep the first channel of an interleaved multi-channel frame."""
    if frame.num_channels == NUM_CHANNELS:
        return frame
    samples = frame.data  # memoryview of int16, interleaved
    first = samples[:: frame.num_channels]
    return rtc.AudioFrame(
        data=first.tobytes(),
        sample_rate=frame.sample_rate,
        num_channels=NUM_CHANNELS,
        samples_per_channel=frame.samples_per_channel,
    )
