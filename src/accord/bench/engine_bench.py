"""Server events per second through codec + session core + engine, on one core.

Three workloads, each a realistic stream of server frames fed to a fresh
:class:`~accord.client.core.SessionCore` as fast as it takes them: text deltas of one
long response, audio deltas (4 KiB PCM payloads, base64) of a spoken response, and item
events (``conversation.item.added`` / ``.done`` of many items). The frames are built
once, before the clock starts.

Each rate comes with a *floor* measured in the same run on the same frames: a plain
msgspec decode (the JSON library accord reads frames with) and a lookup of the event's
``type`` in a dict of handlers that do nothing. The floor is what any Python client pays
to read the frames at all, so the ratio ``seconds / floor_seconds`` says how far the
codec + engine path is from it and, unlike events/s, hardly moves with the load other
processes put on the machine. A second floor with the standard library's ``json.loads``
is timed too: the issue that asked for the speed-up (issue 20) measured its starting
point against that one, so ``speedup_since_filing`` compares like with like.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from accord.client.core import SessionCore
from accord.items import Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    ResponseCreated,
    ResponseOutputAudioDelta,
    ResponseOutputItemAdded,
    ResponseOutputTextDelta,
    encode,
)
from accord.sim.events import EventIds, empty_item, response_object, wire_item

AUDIO_PAYLOAD_BYTES = 4096

#: Full path / ``json.loads`` floor at revision a294542, when issue 20 was filed
#: (docs/benchmarks.md, "Against the floor"): the starting point of its 3x target.
FILED_JSON_FLOOR_RATIO = {"text deltas": 3.78, "audio deltas (4 KiB)": 2.76, "item events": 3.99}


@dataclass(frozen=True, slots=True)
class EngineRate:
    workload: str
    events: int
    seconds: float
    #: CPU time of the decode + dispatch floor on the same frames (0.0: not measured).
    floor_seconds: float = 0.0
    #: The same floor with the standard library's ``json.loads``.
    json_floor_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def floor_ratio(self) -> float | None:
        """How many times the floor's time the full path takes (None: no floor)."""
        return self.seconds / self.floor_seconds if self.floor_seconds else None

    @property
    def speedup_since_filing(self) -> float | None:
        """How many times the events/s of issue 20's filing this run's path reaches,
        from the ratios to the ``json.loads`` floor (then and now): the ratio, unlike
        events/s, does not move with the machine's load between the two runs."""
        filed = FILED_JSON_FLOOR_RATIO.get(self.workload)
        if filed is None or not self.json_floor_seconds:
            return None
        return filed / (self.seconds / self.json_floor_seconds)


def _response_frames(ids: EventIds, delta: Callable[[str, int], str], n: int) -> list[str]:
    reply = Message(id="item_reply", role="assistant", content="", audio=False)
    frames = [
        encode(
            ResponseCreated(event_id=ids.next(), response=response_object("resp_1", "in_progress"))
        ),
        encode(
            ResponseOutputItemAdded(
                event_id=ids.next(), response_id="resp_1", output_index=0, item=empty_item(reply)
            )
        ),
        encode(
            ConversationItemAdded(
                event_id=ids.next(), previous_item_id=None, item=wire_item(reply, "in_progress")
            )
        ),
    ]
    frames.extend(delta(ids.next(), i) for i in range(n))
    return frames


def text_frames(n: int) -> list[str]:
    ids = EventIds(1)
    return _response_frames(
        ids,
        lambda eid, i: encode(
            ResponseOutputTextDelta(
                event_id=eid,
                response_id="resp_1",
                item_id="item_reply",
                output_index=0,
                content_index=0,
                delta=f"word{i} ",
                obfuscation="x1y2z3",
            )
        ),
        n,
    )


def audio_frames(n: int) -> list[str]:
    ids = EventIds(2)
    payload = base64.b64encode(bytes(AUDIO_PAYLOAD_BYTES)).decode("ascii")
    return _response_frames(
        ids,
        lambda eid, _i: encode(
            ResponseOutputAudioDelta(
                event_id=eid,
                response_id="resp_1",
                item_id="item_reply",
                output_index=0,
                content_index=0,
                delta=payload,
            )
        ),
        n,
    )


def item_frames(n: int) -> list[str]:
    ids = EventIds(3)
    frames: list[str] = []
    previous: str | None = None
    for i in range(n // 2):
        item = Message(id=f"item_{i}", role="user", content=f"message {i}")
        wire = wire_item(item)
        frames.append(
            encode(ConversationItemAdded(event_id=ids.next(), previous_item_id=previous, item=wire))
        )
        frames.append(
            encode(ConversationItemDone(event_id=ids.next(), previous_item_id=previous, item=wire))
        )
        previous = item.id
    return frames


WORKLOADS: dict[str, Callable[[int], list[str]]] = {
    "text deltas": text_frames,
    "audio deltas (4 KiB)": audio_frames,
    "item events": item_frames,
}


def _ignore(_event: dict[str, Any]) -> None:
    return None


_PLAIN_DECODE = msgspec.json.Decoder().decode


def floor(frames: list[str], loads: Callable[[str], Any] = _PLAIN_DECODE) -> int:
    """Decode every frame with a plain ``loads`` and dispatch it on ``type`` to a
    handler that does nothing: the least a client can do with the frames. Returns how
    many frames found a handler, so the work cannot be optimised away unnoticed."""
    handlers: dict[str, Callable[[dict[str, Any]], None]] = dict.fromkeys(
        (loads(f)["type"] for f in frames[:4]), _ignore
    )
    handled = 0
    for frame in frames:
        event = loads(frame)
        handler = handlers.get(event["type"])
        if handler is not None:
            handler(event)
            handled += 1
    return handled


def measure(workload: str, n: int, *, repeat: int = 3) -> EngineRate:
    """Best of ``repeat`` runs, each on a fresh core, in CPU time (``process_time``):
    events per second *per core*, not inflated when other processes take the core.
    The floor (:func:`floor`) is timed the same way, interleaved with the full path."""
    frames = WORKLOADS[workload](n)
    best = best_floor = best_json = float("inf")
    for _ in range(repeat):
        core = SessionCore(seed=0)
        start = time.process_time()
        for frame in frames:
            core.receive_frame(frame, 0.0)
        best = min(best, time.process_time() - start)
        start = time.process_time()
        floor(frames)
        best_floor = min(best_floor, time.process_time() - start)
        start = time.process_time()
        floor(frames, json.loads)
        best_json = min(best_json, time.process_time() - start)
    return EngineRate(workload, len(frames), best, best_floor, best_json)
