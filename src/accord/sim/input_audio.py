"""Input audio on the server side: the buffer, server VAD, commits and transcription.

docs/protocol-notes.md, "User audio": ``speech_started`` (already naming the future
item) -> ``speech_stopped`` -> ``input_audio_buffer.committed`` -> the user item with no
transcript -> the transcript, on its own schedule, often mid-response. A mixin of
:class:`accord.sim.session.SimSession`: it reads the session's ids, store, config and
response state.

Transcripts. The simulator recognises no speech, yet the real server always transcribes
a user turn (deltas, then one ``.completed``: rule R14), so the transcript must be known
without recognition. The speech helper (:func:`accord.sim.audio.synthesize`) writes its
text into the PCM's least significant bits, and :func:`accord.sim.audio.transcribe` reads
it back. The text travels with the audio, not in a registry, because the audio is often
made in another process than the one that transcribes it (a client under test, a
recording replayed against ``accord sim serve``). Audio without an embedded text gets
:func:`accord.sim.audio.placeholder_transcript` (its duration, the same every run), and
silence an empty transcript.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from accord.protocol import (
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    OutputAudioBufferClear,
)
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.errors import ServerError
from accord.sim.events import EventIds, added_and_done
from accord.sim.faults import Faults
from accord.sim.responder import ResponseRun
from accord.sim.session_config import server_vad
from accord.sim.store import ConversationStore

log = logging.getLogger("accord.sim")


class InputAudio:
    """The input-audio handlers of a simulated session."""

    ids: EventIds
    store: ConversationStore
    config: SimConfig
    session: dict[str, Any]
    active: ResponseRun | None
    _vad: audio.EnergyVad | None
    _input: bytearray
    _speech_item: str | None
    _heard: dict[str, str | None]
    heard_ms: dict[str, int]
    _idle_from_ms: int  # where the current stretch without speech began (idle_timeout_ms)
    faults: Faults

    # Provided by the session (declared here for the type checker).
    emit: Callable[[Any], None]
    _error: Callable[[ServerError], None]
    _spawn: Callable[[Awaitable[None]], asyncio.Task[None]]
    _start_response: Callable[..., ResponseRun]
    new_id: Callable[[str], str]

    # -- input audio --------------------------------------------------------------------

    def _on_audio_append(self, event: InputAudioBufferAppend) -> None:
        try:
            pcm = base64.b64decode(event.audio, validate=True)
        except (binascii.Error, ValueError):
            self._error(
                ServerError(
                    "invalid_value",
                    "Invalid 'audio': expected base64-encoded audio bytes.",
                    "audio",
                    event.event_id,
                )
            )
            return
        self._input.extend(pcm)
        if self._vad is None:
            return
        for vad_event in self._vad.feed(pcm):
            if vad_event.kind == "speech_started":
                self._speech_started(vad_event.audio_ms)
            else:
                self._speech_stopped(vad_event.audio_ms, self._vad.take_segment() or b"")
        self._check_idle(self._vad)

    def _check_idle(self, vad: audio.EnergyVad) -> None:
        """``idle_timeout_ms`` of server VAD: that much audio without speech, none of it
        while a response runs, triggers a turn (the SDK's
        ``InputAudioBufferTimeoutTriggered``): ``timeout_triggered`` naming the silent
        stretch of the buffer, the silence committed as a user audio item, a response.
        Measured in appended audio, not wall time (the SDK: "the difference between the
        start and end values will roughly match the configured timeout")."""
        timeout = (server_vad(self.session) or {}).get("idle_timeout_ms")
        now = vad.position_ms
        if not timeout or self.active is not None or vad.speaking:
            self._idle_from_ms = now
            return
        if now - self._idle_from_ms < int(timeout):
            return
        item_id = self.new_id("item")
        self.emit(
            InputAudioBufferTimeoutTriggered(
                event_id=self.ids.next(),
                item_id=item_id,
                audio_start_ms=self._idle_from_ms,
                audio_end_ms=now,
            )
        )
        self._idle_from_ms = now
        segment = bytes(self._input)
        self._input.clear()
        vad.clear()
        self._commit(item_id, segment)
        if (server_vad(self.session) or {}).get("create_response", True):
            self._start_response(out_of_band=False, metadata=None)

    def _speech_started(self, audio_ms: int) -> None:
        self._speech_item = self.new_id("item")
        self.emit(
            InputAudioBufferSpeechStarted(
                event_id=self.ids.next(), item_id=self._speech_item, audio_start_ms=audio_ms
            )
        )
        turn = server_vad(self.session) or {}
        if self.active is not None and turn.get("interrupt_response", True):
            self.active.cancel("turn_detected")

    def _speech_stopped(self, audio_ms: int, segment: bytes) -> None:
        item_id = self._speech_item or self.new_id("item")
        self._speech_item = None
        self.emit(
            InputAudioBufferSpeechStopped(
                event_id=self.ids.next(), item_id=item_id, audio_end_ms=audio_ms
            )
        )
        self._input.clear()
        self._commit(item_id, segment)
        turn = server_vad(self.session) or {}
        if not turn.get("create_response", True):
            return
        if self.active is None:
            self._start_response(out_of_band=False, metadata=None)
        elif self.active.cancelling:
            # The turn cancelled the reply, which has not sent its response.done yet (the
            # frames of one burst are handled before its task runs): the turn's own
            # response follows it. It was never started before, so a barge-in went
            # unanswered; that the real server answers it is documented behaviour.
            self.active.then.append(lambda: self._start_response(out_of_band=False, metadata=None))

    def _on_audio_commit(self, event: InputAudioBufferCommit) -> None:
        if len(self._input) < 100 * audio.BYTES_PER_MS:
            # Observed code; the message follows the real server's wording.
            have_ms = len(self._input) / audio.BYTES_PER_MS
            self._error(
                ServerError(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"100ms of audio, but buffer only has {have_ms:.2f}ms of audio.",
                    None,
                    event.event_id,
                )
            )
            return
        segment = bytes(self._input)
        self._input.clear()
        if self._vad is not None:
            self._vad.clear()
        self._commit(self.new_id("item"), segment)

    def _on_audio_clear(self, event: InputAudioBufferClear) -> None:
        self._input.clear()
        if self._vad is not None:
            self._vad.clear()
        self.emit(InputAudioBufferCleared(event_id=self.ids.next()))

    def _on_output_audio_clear(self, event: OutputAudioBufferClear) -> None:
        # output_audio_buffer.clear is for WebRTC/SIP sessions; over a websocket the
        # client owns playback. Acknowledged as a no-op.
        log.debug("output_audio_buffer.clear over a websocket: nothing to clear")

    def _commit(self, item_id: str, segment: bytes) -> None:
        previous = self.store.last_id()
        self.emit(
            InputAudioBufferCommitted(
                event_id=self.ids.next(), item_id=item_id, previous_item_id=previous
            )
        )
        added = self.store.add_user_audio(item_id)
        for ev in added_and_done(self.ids, added.item, added.previous_item_id):
            self.emit(ev)
        # What was said: the text a speech helper embedded in the PCM (sim/audio.py, so it
        # survives any number of processes), else a stable placeholder; the simulator
        # cannot recognise speech it did not make. Silence says nothing (assumed: an
        # empty .completed, as transcription models give for silence; unconfirmed).
        heard = audio.transcribe(segment)
        if heard is None:
            silent = audio.is_silent(segment)
            heard = "" if silent else audio.placeholder_transcript(audio.duration_ms(segment))
        self._heard[item_id] = heard
        self.heard_ms[item_id] = audio.duration_ms(segment)  # its tokens (sim/tokens.py)
        if self.session["audio"]["input"].get("transcription") is None:
            # Input transcription is off (the GA default): no transcription events, and
            # the item's transcript stays null (they were sent whatever the session said).
            self.store.complete_transcript(item_id, None)
            return
        self._spawn(self._transcribe(item_id, heard, audio.duration_ms(segment)))

    async def _transcribe(self, item_id: str, text: str, segment_ms: int) -> None:
        """The transcript arrives on its own schedule, often mid-response: deltas, then one
        ``.completed`` (recorded: rule R14); ``.failed`` only when a test arms it."""
        await asyncio.sleep(self.config.transcription_delay_ms / 1000.0)
        if self.faults.fail_transcriptions > 0:
            self.faults.fail_transcriptions -= 1
            self.store.complete_transcript(item_id, None)
            self.emit(
                InputAudioTranscriptionFailed(
                    event_id=self.ids.next(),
                    item_id=item_id,
                    content_index=0,
                    # Assumed payload: the real server's failure codes are unconfirmed.
                    error={
                        "type": "transcription_error",
                        "code": "audio_unintelligible",
                        "message": "Audio could not be transcribed.",
                        "param": None,
                    },
                )
            )
            return
        for piece in transcript_deltas(text):
            if self.store.get(item_id) is None:
                break  # deleted meanwhile: the transcript stops with it
            self.emit(
                InputAudioTranscriptionDelta(
                    event_id=self.ids.next(),
                    item_id=item_id,
                    content_index=0,
                    delta=piece,
                    obfuscation=self.ids.obfuscation(),
                )
            )
            await asyncio.sleep(0)  # interleaved with a response streaming meanwhile
        if self.store.complete_transcript(item_id, text) is None:
            return  # the item was deleted meanwhile: no transcript resurrects it (R17)
        self.emit(
            InputAudioTranscriptionCompleted(
                event_id=self.ids.next(),
                item_id=item_id,
                content_index=0,
                transcript=text,
                # Recorded: {"type": "duration", "seconds": 3} for 2.8 s of speech.
                usage={"type": "duration", "seconds": max(1, math.ceil(segment_ms / 1000))},
            )
        )


_PIECE = re.compile(r"\s*[\w'\u2019-]+|\s*[^\w\s]+")


def transcript_deltas(text: str) -> list[str]:
    """``text`` as the real server streams a transcript: a word (with the space before
    it) or a run of punctuation per delta, the first with a leading space the completed
    transcript lacks (recorded: " Hello", ",", " my", " name", ... for "Hello, my name")."""
    if not text:
        return []
    pieces = _PIECE.findall(text) or [text]
    pieces[0] = " " + pieces[0].lstrip()
    tail = text[len("".join(pieces).lstrip()) :]
    if tail:
        pieces.append(tail)  # trailing whitespace: the concatenation stays exact
    return pieces
