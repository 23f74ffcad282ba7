"""One response as the application sees it: streams of text, audio and function calls.

A :class:`Generation` is created when ``response.created`` arrives (for a reply the
application asked for, or one the server's VAD started); its streams end at
``response.done``, and :meth:`wait` returns the final status. Consumers may read any
subset of the streams: unread deltas are simply dropped when the generation is
collected.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from accord.items import FunctionCall

T = TypeVar("T")
_END = object()


class _Stream(Generic[T]):
    """An async stream fed by the session and ended once."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ended = False

    def put(self, value: T) -> None:
        if not self._ended:
            self._queue.put_nowait(value)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            value = await self._queue.get()
            if value is _END:
                return
            yield value  # type: ignore[misc]


@dataclass
class MessageOutput:
    """One assistant message of a response, with its own streams.

    Frameworks that play each message on its own (LiveKit's ``MessageGeneration``) need
    the text and audio split per item; :class:`Generation`'s own streams mix them.
    ``modality`` is known from the first delta: ``"text"`` for output text, ``"audio"``
    for audio or its transcript. The streams end at the item's ``output_item.done`` or
    with the response.
    """

    item_id: str
    text: _Stream[str] = field(default_factory=_Stream)
    audio_b64: _Stream[str] = field(default_factory=_Stream)
    modality: Literal["text", "audio"] | None = None
    _decided: asyncio.Event = field(default_factory=asyncio.Event)

    def decide(self, modality: Literal["text", "audio"]) -> None:
        if self.modality is None:
            self.modality = modality
            self._decided.set()

    async def wait_modality(self) -> Literal["text", "audio"] | None:
        """The modality, once the first delta came (None: the message ended without)."""
        await self._decided.wait()
        return self.modality

    def end(self) -> None:
        self.text.end()
        self.audio_b64.end()
        self._decided.set()


@dataclass
class Generation:
    response_id: str
    out_of_band: bool
    requested_by: str | None  # the event id of our response.create (None: server VAD)
    text: _Stream[str] = field(default_factory=_Stream)  # text and audio transcript
    audio_b64: _Stream[str] = field(default_factory=_Stream)  # as received, base64
    function_calls: _Stream[FunctionCall] = field(default_factory=_Stream)
    item_ids: list[str] = field(default_factory=list)
    status: str | None = None
    audio_ms_by_item: dict[str, int] = field(default_factory=dict)
    _done: asyncio.Event = field(default_factory=asyncio.Event)
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
        """PCM16 chunks, decoded as they are read (undecodable chunks are skipped)."""
        return self._decoded()

    async def _decoded(self) -> AsyncIterator[bytes]:
        async for chunk in self.audio_b64:
            try:
                yield base64.b64decode(chunk, validate=True)
            except (binascii.Error, ValueError):
                continue

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
        return "".join([chunk async for chunk in self.text])
