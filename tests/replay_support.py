"""Replaying a recording's client frames against a server, as the recording client did.

Each client frame is sent only once the server has sent what preceded it in the
recording: as many ``session.updated``, ``response.done``... as the recording shows
before it (a frame's place among server frames is approximate in the recordings, so only
these milestones count), and, when it names an id the server issued (a ``call_id``, an
item id), after the response that issued it is done. Those ids are rewritten to the ones
this server issued: the n-th function call's ``call_id`` in the recording stands for the
n-th function call's here, and so on.

Audio appends keep their number, but their payloads (truncated to 32 bytes by the
recorder) are replaced by real PCM: the silence stays silence, and the speech becomes
:func:`accord.sim.audio.synthesize` of what the recorded server transcribed, spread over
the same appends.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI

from accord.sim import audio
from trace_rules.shapes import Event, Recording

MILESTONES = (
    "session.created",
    "session.updated",
    "response.created",
    "response.done",
    "response.output_item.done",
    "input_audio_buffer.committed",
)
APPEND_MS = 100  # each recorded append stands for this much audio
QUIET_S = 0.3  # after the last milestone, the server has this long to say the rest
REPLAY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class IssuedIds:
    """Ids a server issued, by role and in order of issue."""

    calls: list[str]
    items: list[str]
    call_response: dict[str, str]  # call_id -> the response that made it

    @classmethod
    def of(cls, events: list[Event]) -> IssuedIds:
        calls: list[str] = []
        call_response: dict[str, str] = {}
        for e in events:
            if (
                e.get("type") == "response.output_item.added"
                and e["item"]["type"] == "function_call"
            ):
                calls.append(e["item"]["call_id"])
                call_response[e["item"]["call_id"]] = e["response_id"]
        items = [e["item"]["id"] for e in events if e.get("type") == "conversation.item.added"]
        return cls(calls, items, call_response)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _rewrite(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _quiet(payload: str) -> bool:
    pcm = base64.b64decode(payload)
    return audio.rms(pcm) < 50.0


def real_audio(rec: Recording) -> list[str]:
    """PCM for the recording's appends, one base64 chunk per append, in order."""
    appends = [f for f in rec.client if f.get("type") == "input_audio_buffer.append"]
    if not appends:
        return []
    quiet = [_quiet(f["audio"]) for f in appends]
    lead = next(i for i, q in enumerate(quiet) if not q)
    tail = next(i for i, q in enumerate(reversed(quiet)) if not q)
    speech_chunks = len(appends) - lead - tail
    said = next(
        e["transcript"]
        for e in rec.server
        if e.get("type") == "conversation.item.input_audio_transcription.completed"
    )
    speech = audio.synthesize(said, ms_per_char=speech_chunks * APPEND_MS // len(said))
    step = -(-len(speech) // speech_chunks)
    step += step % 2  # whole samples
    pieces = [audio.silence(APPEND_MS)] * lead
    pieces += [speech[i : i + step] for i in range(0, len(speech), step)]
    pieces += [audio.silence(APPEND_MS)] * (len(appends) - len(pieces))
    assert len(pieces) == len(appends), (len(pieces), len(appends))
    return [base64.b64encode(p).decode("ascii") for p in pieces]


@dataclass
class Replay:
    """One recording replayed; ``received`` is every server event, ``sent`` every frame."""

    rec: Recording
    received: list[Event] = field(default_factory=list)
    sent: list[Event] = field(default_factory=list)
    stalled: str | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def _counts(self) -> Counter[str]:
        return Counter(e.get("type") for e in self.received if e.get("type") in MILESTONES)

    async def _until(self, ready: Any, what: str) -> None:
        try:
            async with asyncio.timeout(REPLAY_TIMEOUT_S):
                while True:
                    self._arrived.clear()  # before the test: an event between them counts
                    if ready():
                        return
                    await self._arrived.wait()
        except TimeoutError:
            self.stalled = what
            raise

    def _plan(self) -> list[tuple[Event, Counter[str]]]:
        seen: Counter[str] = Counter()
        steps: list[tuple[Event, Counter[str]]] = []
        for side, index in self.rec.order:
            if side == "server":
                kind = self.rec.server[index].get("type")
                if kind in MILESTONES:
                    seen[str(kind)] += 1
            else:
                steps.append((self.rec.client[index], Counter(seen)))
        return steps

    def _references_ready(self, frame: Event, recorded: IssuedIds) -> bool:
        """The ids ``frame`` names exist here, and the responses that made them are done."""
        ours = IssuedIds.of(self.received)
        done = {e["response"]["id"] for e in self.received if e.get("type") == "response.done"}
        for value in _strings(frame):
            if value in recorded.calls:
                n = recorded.calls.index(value)
                if n >= len(ours.calls) or ours.call_response[ours.calls[n]] not in done:
                    return False
            elif value in recorded.items and recorded.items.index(value) >= len(ours.items):
                return False
        return True

    def _mapping(self, recorded: IssuedIds) -> dict[str, str]:
        ours = IssuedIds.of(self.received)
        mapping = dict(zip(recorded.calls, ours.calls, strict=False))
        mapping.update(zip(recorded.items, ours.items, strict=False))
        return mapping

    async def run(self, port: int) -> None:
        client = AsyncOpenAI(api_key="sk-local", websocket_base_url=f"ws://127.0.0.1:{port}/v1")
        recorded = IssuedIds.of(self.rec.server)
        pcm = iter(real_audio(self.rec))
        async with client.realtime.connect(model=self.rec.model or "gpt-realtime") as conn:
            reader = asyncio.create_task(self._read(conn))
            try:
                for frame, after in self._plan():
                    await self._until(
                        lambda after=after: all(self._counts()[k] >= n for k, n in after.items()),
                        f"{dict(after)} before {frame['type']}",
                    )
                    await self._until(
                        lambda frame=frame: self._references_ready(frame, recorded),
                        f"the ids {frame['type']} names",
                    )
                    body = _rewrite(copy.deepcopy(frame), self._mapping(recorded))
                    if body["type"] == "input_audio_buffer.append":
                        body["audio"] = next(pcm)
                    await conn.send(body)
                    self.sent.append(body)
                final = Counter(
                    e.get("type") for e in self.rec.server if e.get("type") in MILESTONES
                )
                await self._until(
                    lambda: all(self._counts()[k] >= n for k, n in final.items()),
                    f"the recording's last milestones {dict(final)}",
                )
                await asyncio.sleep(QUIET_S)
            finally:
                reader.cancel()

    async def _read(self, conn: Any) -> None:
        while True:
            raw = await conn.recv_bytes()
            self.received.append(json.loads(raw))
            self._arrived.set()


def outline(events: list[Event]) -> list[list[str]]:
    """Per response, its output items as ``type[:part]``: what the model did."""
    out: list[list[str]] = []
    for e in events:
        if e.get("type") != "response.done":
            continue
        shape = []
        for item in e["response"]["output"]:
            parts = [p["type"] for p in item.get("content") or []]
            shape.append(":".join([item["type"], *parts]))
        out.append(shape)
    return out
