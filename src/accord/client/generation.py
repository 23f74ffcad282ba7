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
from typing import Generic, TypeVar

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
        self._done.set()

    async def wait(self) -> str:
        """The final status: completed, cancelled, incomplete or failed."""
        await self._done.wait()
        assert self.status is not None
        return self.status

    async def collect_text(self) -> str:
        return "".join([chunk async for chunk in self.text])
