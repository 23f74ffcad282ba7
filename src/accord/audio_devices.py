"""Microphone and speaker, through ``sounddevice`` (the optional ``accord[voice]`` extra).

Nothing else in accord needs a sound card: WAV files (:mod:`accord.audio_io`) and the
PCM streams of a generation work everywhere. This module imports ``sounddevice`` only
when a device is opened (or :func:`load_sounddevice` is called), so importing it costs
nothing and a missing extra is a :class:`VoiceExtraMissingError` naming what to
install, never an ImportError at start-up. ``sounddevice`` needs the PortAudio C library
(bundled in its macOS and Windows wheels; on Linux a system package, ``libportaudio2``
on Debian and Ubuntu).

Both devices run at the session's format, PCM16 mono 24 kHz (PortAudio resamples when
the hardware runs at another rate). Limits: no echo cancellation, so a speaker the
microphone hears makes the server's VAD take the reply for the user barging in (use
headphones). The runner's barge-in cuts a reply still streaming at what was received;
one that streamed whole and is still playing is the player's to cut, where the
:class:`Speaker`'s ``cursor`` says playback stopped (``accord chat --mic`` does).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import Any

from accord.audio_io import BYTES_PER_MS, CHANNELS, SAMPLE_RATE

INSTALL_HINT = "pip install 'accord[voice]'"


class VoiceExtraMissingError(RuntimeError):
    """Live audio was asked for, and ``sounddevice`` (or PortAudio under it) is missing."""


class DeviceError(RuntimeError):
    """A sound device could not be opened or failed while running."""


def load_sounddevice() -> ModuleType:
    """The ``sounddevice`` module, or a :class:`VoiceExtraMissingError` saying what to
    install: the extra itself, or the PortAudio library it loads at import."""
    try:
        # By name: the type checker must not need the optional package.
        sounddevice = importlib.import_module("sounddevice")
    except ImportError as exc:
        raise VoiceExtraMissingError(
            f"microphone and speaker need the voice extra: {INSTALL_HINT}"
        ) from exc
    except OSError as exc:  # sounddevice raises OSError when PortAudio is not found
        raise VoiceExtraMissingError(
            f"sounddevice is installed but cannot load PortAudio ({exc}); install the "
            "PortAudio library (Debian/Ubuntu: apt install libportaudio2)"
        ) from exc
    return sounddevice


def _opened(what: str, open_stream: Callable[[], Any]) -> Any:
    try:
        stream = open_stream()
        stream.start()
    except Exception as exc:  # PortAudioError, or ValueError for a bad device name
        raise DeviceError(f"cannot open the {what}: {exc}") from exc
    return stream


class Microphone:
    """Captures PCM16 mono 24 kHz in blocks of ``block_ms`` and hands each block to
    ``on_audio`` in the event loop's thread (e.g. ``runner.speak``): PortAudio calls
    back on a thread of its own, where the session must not be touched."""

    def __init__(
        self,
        on_audio: Callable[[bytes], None],
        *,
        block_ms: int = 100,
        device: int | str | None = None,
        sounddevice: ModuleType | None = None,
    ) -> None:
        self._on_audio = on_audio
        self._block_ms = block_ms
        self._device = device
        self._sd = sounddevice
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Open the default (or named) input device; call from the event loop."""
        sd = self._sd or load_sounddevice()
        self._loop = asyncio.get_running_loop()
        self._stream = _opened(
            "microphone",
            lambda: sd.RawInputStream(
                samplerate=SAMPLE_RATE,
                channels=CHANNELS,
                dtype="int16",
                blocksize=SAMPLE_RATE * self._block_ms // 1000,
                device=self._device,
                callback=self._captured,
            ),
        )

    def _captured(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_audio, bytes(indata))

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def __enter__(self) -> Microphone:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Speaker:
    """Plays PCM16 mono 24 kHz as it is queued with :meth:`play`; :meth:`clear` drops
    what has not played yet (the user barged in). Silence when nothing is queued.

    Positions count bytes of everything ever queued: ``enqueued`` is its end,
    ``cursor`` how far playback (or a clear) has gone, so a caller that noted
    ``enqueued`` when an item's first chunk was queued knows how much of that item was
    heard: ``cursor - start``, the position a barge-in truncates the item at.
    """

    def __init__(
        self, *, device: int | str | None = None, sounddevice: ModuleType | None = None
    ) -> None:
        self._device = device
        self._sd = sounddevice
        self._stream: Any = None
        self._queued = bytearray()
        self._lock = threading.Lock()  # the buffer is shared with PortAudio's thread
        self.enqueued = 0
        self.cursor = 0
        self.played_bytes = 0  # handed to the device (cleared audio is not)

    @property
    def played_ms(self) -> int:
        """How much audio has been handed to the device since it opened."""
        return self.played_bytes // BYTES_PER_MS

    @property
    def pending_ms(self) -> int:
        """Queued audio not played yet."""
        with self._lock:
            return len(self._queued) // BYTES_PER_MS

    def start(self) -> None:
        sd = self._sd or load_sounddevice()
        self._stream = _opened(
            "speaker",
            lambda: sd.RawOutputStream(
                samplerate=SAMPLE_RATE,
                channels=CHANNELS,
                dtype="int16",
                device=self._device,
                callback=self._fill,
            ),
        )

    def play(self, pcm: bytes) -> None:
        with self._lock:
            self._queued += pcm
            self.enqueued += len(pcm)

    def clear(self) -> int:
        """Drop what has not played; returns the cursor where playback stopped."""
        with self._lock:
            stopped = self.cursor
            self.cursor += len(self._queued)
            self._queued.clear()
            return stopped

    def _fill(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        wanted = len(outdata)
        with self._lock:
            chunk = bytes(self._queued[:wanted])
            del self._queued[:wanted]
            self.cursor += len(chunk)
        self.played_bytes += len(chunk)
        outdata[: len(chunk)] = chunk
        outdata[len(chunk) :] = bytes(wanted - len(chunk))

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def __enter__(self) -> Speaker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
