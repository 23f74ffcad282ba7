"""One response as the application sees it: streams of text, audio and function calls.

A :class:`Generation` is created when ``response.created`` arrives (for a reply the
application asked for, or one the server's VAD started); its streams end at
``response.done``, and :meth:`Generation.wait` returns the final status.

Every stream can be read by any number of readers, each from the start: the runner
collecting a reply's text for its transcript does not take it from an application that
reads the same text, and ``collect_audio()`` after an ``async for`` over ``audio`` still
gets all of it. The chunks are kept as long as the generation is (it is dropped at
``response.done`` by the session, so only as long as a reader holds it).

Audio: :attr:`Generation.audio` and :attr:`MessageOutput.audio` are the reply's sound
as raw PCM16, signed 16-bit little-endian samples, mono, 24,000 Hz (48 bytes per
millisecond), the Realtime API's ``audio/pcm`` output format and what
:mod:`accord.audio_io` writes to WAV files. ``audio_b64`` is the same audio as the
server sent it, base64 text, for code that forwards it without decoding.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from accord.client.streaming import (
    AudioDelta,
    CallArguments,
    OutputBegan,
    OutputEnded,
    ResponseBegan,
    ResponseEnded,
    StreamEvent,
    TextDelta,
)
from accord.items import FunctionCall

T = TypeVar("T")

#: The format of every PCM stream of this module: 24 kHz, 16-bit, mono.
SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2  # bytes per sample
CHANNELS = 1


class _Stream(Generic[T]):
    """An async stream fed by the session and ended once; every reader sees it all.

    Values are appended to a list; each ``async for`` walks it from the start with its
    own position and, at the end of what has come so far, waits for the next ``put`` or
    the ``end``. Waiting costs one future per parked reader, none when nobody waits.
    The lists are made when first needed: a stream nothing is put in and nobody waits
    on (a text reply's audio) holds none (fewer objects for the garbage collector).
    """

    __slots__ = ("_ended", "_values", "_waiters")

    def __init__(self) -> None:
        self._values: list[T] | None = None
        self._ended = False
        self._waiters: list[asyncio.Future[None]] | None = None

    @property
    def ended(self) -> bool:
        return self._ended

    def put(self, value: T) -> None:
        if not self._ended:
            if self._values is None:
                self._values = [value]
            else:
                self._values.append(value)
            self._wake()

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:  # set_result only schedules the readers: none is added meanwhile
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            waiters.clear()

    async def __aiter__(self) -> AsyncIterator[T]:
        index = 0
        while True:
            values = self._values
            if values is not None and index < len(values):
                index += 1
                yield values[index - 1]
                continue
            if self._ended:
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = [waiter]
            else:
                self._waiters.append(waiter)
            await waiter


class _Signal:
    """Set once, awaited by any number: an :class:`asyncio.Event` that makes its list of
    waiters only when one waits (most generations are done before anyone asks)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            waiters, self._waiters = self._waiters, None
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self) -> None:
        if self._set:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter.cancelled():
                self._waiters.remove(waiter)  # a cancelled wait leaves nothing behind


async def _decoded(chunks: _Stream[str]) -> AsyncIterator[bytes]:
    """Base64 chunks as PCM bytes, decoded as they are read. A chunk that is not
    base64 is skipped (the session already reported it as a notice when it came)."""
    async for chunk in chunks:
        try:
            pcm = base64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            continue
        if pcm:
            yield pcm


@dataclass
class MessageOutput:
    """One assistant message of a response, with its own streams.

    Frameworks that play each message on its own (LiveKit's ``MessageGeneration``) need
    the text and audio split per item; :class:`Generation`'s own streams mix them.
    ``modality`` is known from the first delta: ``"text"`` for output text, ``"audio"``
    for audio or its transcript. The streams end at the item's ``output_item.done`` or
    with the response.

    ``audio``: this message's sound, PCM16 little-endian mono 24 kHz chunks as they
    arrive; ``collect_audio()``: all of it at once; ``text``: its transcript (audio) or
    text.
    """

    item_id: str
    text: _Stream[str] = field(default_factory=_Stream)
    audio_b64: _Stream[str] = field(default_factory=_Stream)
    modality: Literal["text", "audio"] | None = None
    _decided: _Signal = field(default_factory=_Signal)

    def decide(self, modality: Literal["text", "audio"]) -> None:
        if self.modality is None:
            self.modality = modality
            self._decided.set()

    async def wait_modality(self) -> Literal["text", "audio"] | None:
        """The modality, once the first delta came (None: the message ended without)."""
        await self._decided.wait()
        return self.modality

    @property
    def audio(self) -> AsyncIterator[bytes]:
        """This message's audio: PCM16 little-endian mono at 24 kHz, chunk by chunk as
        the server sends it (each chunk a whole number of samples); ends with the
        message. A new iterator from the first chunk on every read."""
        return _decoded(self.audio_b64)

    async def collect_audio(self) -> bytes:
        """All of this message's audio (PCM16 mono 24 kHz), once the message ended."""
        return b"".join([chunk async for chunk in self.audio])

    async def collect_text(self) -> str:
        """This message's text, or the transcript of its audio, once it ended."""
        return "".join([chunk async for chunk in self.text])

    def end(self) -> None:
        self.text.end()
        self.audio_b64.end()
        self._decided.set()


@dataclass
class Generation:
    """One response: ``text`` (text, or the transcript of the audio), ``audio`` (PCM16
    mono 24 kHz of every message of the response, in order), ``function_calls``, and
    ``messages`` for each message's own streams; :meth:`wait` for the final status."""

    response_id: str
    out_of_band: bool
    requested_by: str | None  # the event id of our response.create (None: server VAD)
    text: _Stream[str] = field(default_factory=_Stream)  # text and audio transcript
    audio_b64: _Stream[str] = field(default_factory=_Stream)  # as received, base64
    function_calls: _Stream[FunctionCall] = field(default_factory=_Stream)
    item_ids: list[str] = field(default_factory=list)
    status: str | None = None
    audio_ms_by_item: dict[str, int] = field(default_factory=dict)
    _done: _Signal = field(default_factory=_Signal)
    # What response.create's metadata said (echoed by response.created): how a caller
    # that tagged its request finds its response among the ones the server starts.
    metadata: dict[str, str] = field(default_factory=dict)
    # Each assistant message as it starts (see MessageOutput), and usage at the end.
    messages: _Stream[MessageOutput] = field(default_factory=_Stream)
    message_outputs: dict[str, MessageOutput] = field(default_factory=dict)
    usage: dict[str, Any] | None = None

    def message_started(self, item_id: str) -> None:
        if item_id not in self.message_outputs:
            output = MessageOutput(item_id)
            self.message_outputs[item_id] = output
            self.messages.put(output)

    def message_delta(
        self, item_id: str, modality: Literal["text", "audio"]
    ) -> MessageOutput | None:
        """The message a delta belongs to, its modality settled by the first delta."""
        output = self.message_outputs.get(item_id)
        if output is not None:
            output.decide(modality)
        return output

    @property
    def audio(self) -> AsyncIterator[bytes]:
        """The response's audio: raw PCM16 (signed 16-bit little-endian) mono at 24 kHz,
        48 bytes per millisecond, chunk by chunk as the server sends it, decoded from
        base64 as it is read; ends at ``response.done``. Play it, or write it to a WAV
        file (:class:`accord.audio_io.WavSink`). A new iterator from the first chunk on
        every read. Empty for a text response."""
        return _decoded(self.audio_b64)

    async def collect_audio(self) -> bytes:
        """All the response's audio (PCM16 mono 24 kHz) once it is done; b"" for a text
        response. Cancelled responses give what was sent before the cancel."""
        return b"".join([chunk async for chunk in self.audio])

    def finish(self, status: str) -> None:
        self.status = status
        self.text.end()
        self.audio_b64.end()
        self.function_calls.end()
        for output in self.message_outputs.values():
            output.end()
        self.messages.end()
        self._done.set()

    async def wait(self) -> str:
        """The final status: completed, cancelled, incomplete or failed."""
        await self._done.wait()
        assert self.status is not None
        return self.status

    async def collect_text(self) -> str:
        """The response's text (or transcript of its audio) once it is done."""
        return "".join([chunk async for chunk in self.text])


class Generations:
    """The shell's generations, fed the core's :mod:`accord.client.streaming` records.

    The one place a response's streams are written and ended: the core says what arrived,
    this turns it into :class:`Generation` streams (so the core holds no asyncio object,
    and every waiter and stream lives in the shell). A generation is dropped at its end;
    a reader that holds it keeps reading what came.
    """

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[str, Generation] = {}

    def get(self, response_id: str) -> Generation | None:
        """The open generation of ``response_id`` (None once it ended, or never began)."""
        return self._open.get(response_id)

    def feed(self, event: StreamEvent) -> Generation | None:
        """Apply one record; a new :class:`Generation` when it is a response's start."""
        if isinstance(event, ResponseBegan):
            generation = Generation(
                event.response_id, event.out_of_band, event.requested_by, metadata=event.metadata
            )
            self._open[event.response_id] = generation
            return generation
        current = self._open.get(event.response_id)
        if current is None:
            return None
        self._apply(current, event)
        return None

    def _apply(self, generation: Generation, event: StreamEvent) -> None:
        if isinstance(event, AudioDelta):
            generation.audio_b64.put(event.delta_b64)
            output = generation.message_delta(event.item_id, "audio")
            if output is not None:
                output.audio_b64.put(event.delta_b64)
        elif isinstance(event, TextDelta):
            generation.text.put(event.delta)
            output = generation.message_delta(event.item_id, event.modality)
            if output is not None:
                output.text.put(event.delta)
        elif isinstance(event, OutputBegan):
            generation.item_ids.append(event.item_id)
            if event.is_message:
                generation.message_started(event.item_id)
        elif isinstance(event, CallArguments):
            generation.function_calls.put(event.call)
        elif isinstance(event, OutputEnded):
            message = generation.message_outputs.get(event.item_id)
            if message is not None:
                message.end()
        elif isinstance(event, ResponseEnded):
            del self._open[event.response_id]
            generation.usage = event.usage
            generation.finish(event.status)

    def finish_all(self, status: str) -> None:
        """End every open generation (the session closed): no stream or ``wait()``
        outlives the session."""
        open_now, self._open = self._open, {}
        for generation in open_now.values():
            generation.finish(status)
