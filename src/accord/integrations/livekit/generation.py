"""An accord response as LiveKit's ``GenerationCreatedEvent``, and its metrics.

LiveKit plays a response message by message (``message_stream`` of
``MessageGeneration``, each with its text, audio frames and modalities) and runs the
calls of ``function_stream``. Both are async generators over the accord
:class:`~accord.client.generation.Generation`'s streams, converting as LiveKit reads.
Reading is also what tells the adapter that LiveKit's agent context takes an item in
(:mod:`.observed`): a call once LiveKit has pulled it, a message once LiveKit has read
it to the end (its text, and its audio when LiveKit plays it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from livekit import rtc
from livekit.agents import llm
from livekit.agents.metrics import RealtimeModelMetrics
from livekit.agents.metrics.base import Metadata

from accord.client.generation import Generation, MessageOutput
from accord.integrations.livekit.audio import frame_from_base64
from accord.integrations.livekit.convert import to_livekit

Modalities = list[Literal["text", "audio"]]


class LiveKitGeneration:
    """One in-band response, as LiveKit consumes it."""

    def __init__(
        self,
        generation: Generation,
        *,
        user_initiated: bool,
        audio_output: bool,
        on_call_pulled: Callable[[llm.FunctionCall], None],
        on_message_read: Callable[[str], None],
    ) -> None:
        self.generation = generation
        self.created_wall = time.time()
        self._created = time.perf_counter()
        self.first_token: float | None = None
        self._audio_output = audio_output
        self._on_call_pulled = on_call_pulled
        self._on_message_read = on_message_read
        self._read: dict[str, set[str]] = {}  # message id -> the streams read to the end
        self._playing: set[str] = set()  # messages whose audio LiveKit reads (plays)
        self.event = llm.GenerationCreatedEvent(
            message_stream=self._messages(),
            function_stream=self._calls(),
            user_initiated=user_initiated,
            response_id=generation.response_id,
        )

    async def _messages(self) -> AsyncIterator[llm.MessageGeneration]:
        async for output in self.generation.messages:
            yield llm.MessageGeneration(
                message_id=output.item_id,
                text_stream=self._text(output),
                audio_stream=self._audio(output),
                modalities=self._modalities(output),
            )

    def _modalities(self, output: MessageOutput) -> asyncio.Future[Modalities]:
        """Known from the message's first delta (audio, or text alone), as LiveKit's
        plugin learns it from the content part; a message that ends without any delta
        takes the session's output modality. LiveKit awaits this before either stream."""
        return asyncio.ensure_future(self._modality_of(output))

    async def _modality_of(self, output: MessageOutput) -> Modalities:
        modality = await output.wait_modality()
        audio = modality == "audio" or (modality is None and self._audio_output)
        return ["audio", "text"] if audio else ["text"]

    async def _text(self, output: MessageOutput) -> AsyncIterator[str]:
        async for chunk in output.text:
            self._first_token()
            yield chunk
        self._part_read(output, "text")

    async def _audio(self, output: MessageOutput) -> AsyncIterator[rtc.AudioFrame]:
        self._playing.add(output.item_id)
        async for chunk in output.audio_b64:
            frame = frame_from_base64(chunk)
            if frame is not None:
                self._first_token()
                yield frame
        self._part_read(output, "audio")

    def _part_read(self, output: MessageOutput, part: Literal["text", "audio"]) -> None:
        """LiveKit records a message once it has forwarded it: its text, and for a spoken
        one it plays, its audio too (read at the pace it plays, so this comes close to the
        moment LiveKit records it)."""
        parts = self._read.setdefault(output.item_id, set())
        parts.add(part)
        playing = output.item_id in self._playing
        if "text" in parts and (not playing or "audio" in parts):
            self._on_message_read(output.item_id)

    async def _calls(self) -> AsyncIterator[llm.FunctionCall]:
        async for call in self.generation.function_calls:
            lk_call = to_livekit(call)
            assert isinstance(lk_call, llm.FunctionCall)
            yield lk_call
            # Past the yield: LiveKit has taken the call (it records it as the tool starts).
            self._on_call_pulled(lk_call)

    def _first_token(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def metrics(self, *, label: str, model: str, provider: str) -> RealtimeModelMetrics:
        """The response's metrics once it is done (usage as the server reported it)."""
        usage: dict[str, Any] = self.generation.usage or {}
        duration = time.perf_counter() - self._created
        ttft = -1.0 if self.first_token is None else self.first_token - self._created
        inputs: dict[str, Any] = usage.get("input_token_details") or {}
        cached: dict[str, Any] = inputs.get("cached_tokens_details") or {}
        outputs: dict[str, Any] = usage.get("output_token_details") or {}
        output_tokens = int(usage.get("output_tokens") or 0)
        return RealtimeModelMetrics(
            label=label,
            request_id=self.generation.response_id,
            timestamp=self.created_wall,
            duration=duration,
            ttft=ttft,
            cancelled=self.generation.status == "cancelled",
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=output_tokens,
            total_tokens=int(usage.get("total_tokens") or 0),
            tokens_per_second=output_tokens / duration if duration > 0 else 0.0,
            input_token_details=RealtimeModelMetrics.InputTokenDetails(
                audio_tokens=int(inputs.get("audio_tokens") or 0),
                text_tokens=int(inputs.get("text_tokens") or 0),
                image_tokens=int(inputs.get("image_tokens") or 0),
                cached_tokens=int(inputs.get("cached_tokens") or 0),
                cached_tokens_details=RealtimeModelMetrics.CachedTokenDetails(
                    audio_tokens=int(cached.get("audio_tokens") or 0),
                    text_tokens=int(cached.get("text_tokens") or 0),
                    image_tokens=int(cached.get("image_tokens") or 0),
                ),
            ),
            output_token_details=RealtimeModelMetrics.OutputTokenDetails(
                text_tokens=int(outputs.get("text_tokens") or 0),
                audio_tokens=int(outputs.get("audio_tokens") or 0),
            ),
            metadata=Metadata(model_name=model, model_provider=provider),
        )
