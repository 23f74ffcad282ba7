"""Shared tools of the simulator tests: an SDK-validating wire client and order checks.

Every server event a test receives goes through :func:`validated`: it must validate
against the official SDK's server-event union *and* the model pydantic picked must have
the event's ``type`` (the SDK's unions are discriminated by a marker pydantic does not
read, so an unknown or misshapen event can be silently accepted as another model).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, get_args

from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection, connect

SDK_SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
# The SDK model each ``type`` names.
SDK_CLASSES: dict[str, type] = {
    name: model
    for model in get_args(get_args(RealtimeServerEvent)[0])
    for name in get_args(model.model_fields["type"].annotation)
}
TIMEOUT = 3.0  # no single wait in these tests takes anywhere near this long
QUIET = 0.15  # silence that counts as "the server has nothing more to say"

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


def validated(raw: str | bytes) -> Event:
    """The event as a dict, after the SDK accepted it as the model its type names."""
    event: Event = json.loads(raw)
    assert isinstance(event.get("event_id"), str), event
    assert event.get("type") in SDK_CLASSES, f"not an SDK server event type: {event.get('type')!r}"
    parsed = SDK_SERVER_EVENTS.validate_python(event)
    assert type(parsed) is SDK_CLASSES[event["type"]], (
        f"the SDK parsed {event['type']!r} as {type(parsed).__name__}"
    )
    _no_object_keys(event)
    return event


def _no_object_keys(event: Event) -> None:
    """docs/protocol-notes.md: items in server events carry no ``object`` key; outputs no status."""
    items: list[Mapping[str, Any]] = []
    if isinstance(event.get("item"), Mapping):
        items.append(event["item"])
    response = event.get("response")
    if isinstance(response, Mapping):
        items.extend(response.get("output") or [])
    for item in items:
        assert "object" not in item, event
        if item.get("type") == "function_call_output":
            assert "status" not in item, event


def matches(kind: str, **fields: Any) -> Predicate:
    def test(event: Event) -> bool:
        return event["type"] == kind and all(event.get(k) == v for k, v in fields.items())

    return test


class Stream:
    """Received server events, each validated; subclasses say where raw frames come from."""

    def __init__(self) -> None:
        self.events: list[Event] = []  # everything received, in order

    async def _recv_raw(self) -> str | bytes:
        raise NotImplementedError

    def _check(self, raw: str | bytes, event: Event) -> None:
        """Further checks of one event (the SDK's own parse, for the SDK stream)."""

    async def recv(self, timeout: float = TIMEOUT) -> Event:
        raw = await asyncio.wait_for(self._recv_raw(), timeout)
        event = validated(raw)
        self._check(raw, event)
        self.events.append(event)
        return event

    async def until(self, done: Predicate | str, timeout: float = TIMEOUT) -> list[Event]:
        """Events up to and including the first that ``done`` accepts (or of that type)."""
        test = matches(done) if isinstance(done, str) else done
        got: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv()
                got.append(event)
                if test(event):
                    return got

    async def quiet(self, seconds: float = QUIET) -> list[Event]:
        """Everything until the server has been silent for ``seconds``."""
        got: list[Event] = []
        while True:
            try:
                got.append(await self.recv(seconds))
            except TimeoutError:
                return got

    async def error_for(self, event_id: str) -> dict[str, Any]:
        """The ``error`` payload that echoes ``event_id``."""
        got = await self.until(
            lambda e: e["type"] == "error" and e["error"]["event_id"] == event_id
        )
        error: dict[str, Any] = got[-1]["error"]
        return error

    async def acked(self, item_id: str) -> Event:
        """Wait for ``conversation.item.added`` then ``.done`` of ``item_id``; the added."""
        got = await self.until(
            lambda e: e["type"] == "conversation.item.done" and e["item"]["id"] == item_id
        )
        added = [e for e in got if e["type"] == "conversation.item.added"]
        added = [e for e in added if e["item"]["id"] == item_id]
        assert len(added) == 1, f"no conversation.item.added before .done of {item_id}"
        return added[0]


class Wire(Stream):
    """A raw websocket client (no SDK in the way) that validates everything it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__()
        self.ws = ws
        self._sent = 0
        self.sent: list[Event] = []  # every event sent (not raw frames), for the rules

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        model: str | None = "gpt-realtime",
        headers: Mapping[str, str] | None = None,
    ) -> Wire:
        query = f"?model={model}" if model is not None else ""
        ws = await asyncio.wait_for(
            connect(url + query, additional_headers=dict(headers or {}), max_size=2**25),
            TIMEOUT,
        )
        return cls(ws)

    async def _recv_raw(self) -> str | bytes:
        return await self.ws.recv()

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, event: Mapping[str, Any]) -> str:
        """Send ``event`` with an ``event_id`` (one is assigned when missing); returns it."""
        body = dict(event)
        if "event_id" not in body:
            self._sent += 1
            body["event_id"] = f"evt_c{self._sent}"
        self.sent.append(body)
        await self.ws.send(json.dumps(body))
        return str(body["event_id"])

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)


class SdkStream(Stream):
    """Events of an official-SDK connection, read raw and also parsed the SDK's way."""

    def __init__(self, conn: AsyncRealtimeConnection) -> None:
        super().__init__()
        self.conn = conn

    async def _recv_raw(self) -> str | bytes:
        return await self.conn.recv_bytes()

    def _check(self, raw: str | bytes, event: Event) -> None:
        parsed = self.conn.parse_event(raw)
        assert type(parsed) is SDK_CLASSES[event["type"]], (
            f"the SDK connection parsed {event['type']!r} as {type(parsed).__name__}"
        )


# -- text helpers ------------------------------------------------------------------------


def user_text(text: str, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return item


def create(
    item: Mapping[str, Any], previous_item_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "conversation.item.create", "item": dict(item), **extra}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    return event


TEXT_ONLY = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


def types(events: Iterable[Event]) -> list[str]:
    return [e["type"] for e in events]


# -- the order of one response (docs/protocol-notes.md, "Responses") -----------------------------

DELTAS = {
    "response.output_text.delta",
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.function_call_arguments.delta",
}
CONTENT_DONES = {
    "response.output_text.done",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.function_call_arguments.done",
}


def check_response(events: list[Event], response_id: str) -> Event:
    """Assert the notes' event order and shapes for one response; return its response.done.

    ``events`` is a stretch of the stream that holds the whole response (other events may
    interleave). Checked: created first and done last; per output item, output_item.added
    -> conversation.item.added (in-band) -> content_part.added -> deltas -> their .done ->
    content_part.done -> conversation.item.done -> output_item.done; deltas add up to the
    .done text; obfuscation on text deltas only; response.done.output equals the
    output_item.done items in order; no rate_limits.updated inside the response.
    """
    ours = [
        (i, e)
        for i, e in enumerate(events)
        if e.get("response_id") == response_id
        or (
            e["type"] in ("response.created", "response.done")
            and e["response"]["id"] == response_id
        )
    ]
    assert ours, f"no events for {response_id}"
    first, last = ours[0][0], ours[-1][0]
    created, done = events[first], events[last]
    assert created["type"] == "response.created", created
    assert done["type"] == "response.done", done
    assert created["response"]["status"] == "in_progress"
    assert created["response"]["output"] == []
    assert created["response"].get("usage") is None
    assert done["response"]["status"] in ("completed", "cancelled", "incomplete", "failed")
    # rate_limits.updated is never sent inside a response: within this one's window it
    # can only be the tail of another (out-of-band or in-band) response's response.done.
    for i in range(first, last + 1):
        if events[i]["type"] == "rate_limits.updated":
            assert events[i - 1]["type"] == "response.done", "rate_limits.updated mid-response"
            assert events[i - 1]["response"]["id"] != response_id

    in_band = done["response"].get("conversation_id") is not None
    item_dones: list[Event] = []
    for added_at, added in ours:
        if added["type"] != "response.output_item.added":
            continue
        item = added["item"]
        assert item["status"] == "in_progress", added
        assert not item.get("content") and not item.get("arguments"), added
        item_dones.append(_check_item(events, added_at, item["id"], in_band))
    assert done["response"]["output"] == [e["item"] for e in item_dones], (
        "response.done.output differs from the output_item.done items"
    )
    return done


def _check_item(events: list[Event], start: int, item_id: str, in_band: bool) -> Event:
    mine = [(i, e) for i, e in enumerate(events) if i >= start and _about(e, item_id)]
    kinds = [e["type"] for _, e in mine]
    assert kinds[0] == "response.output_item.added"
    assert kinds[-1] == "response.output_item.done", kinds
    stages = [_stage(k) for k in kinds]
    assert stages == sorted(stages), f"item {item_id} out of order: {kinds}"
    assert ("conversation.item.added" in kinds) == in_band, kinds
    final = mine[-1][1]["item"]
    for _, e in mine:
        if e["type"] in DELTAS:
            has_obfuscation = "obfuscation" in e
            assert has_obfuscation == (e["type"] != "response.output_audio.delta"), e
    if final["status"] == "completed":
        if final["type"] == "function_call":
            args = "".join(e["delta"] for _, e in mine if e["type"].endswith("arguments.delta"))
            assert args == final["arguments"]
            dones = [e for _, e in mine if e["type"] == "response.function_call_arguments.done"]
            assert dones[0]["name"] == final["name"]
            assert dones[0]["arguments"] == final["arguments"]
        elif final["content"][0]["type"] == "output_text":
            text = "".join(e["delta"] for _, e in mine if e["type"] == "response.output_text.delta")
            assert text == final["content"][0]["text"]
        else:
            said = "".join(
                e["delta"] for _, e in mine if e["type"] == "response.output_audio_transcript.delta"
            )
            assert said == final["content"][0]["transcript"]
            # The first transcript delta precedes the first audio delta; audio.done
            # precedes audio_transcript.done.
            assert kinds.index("response.output_audio_transcript.delta") < kinds.index(
                "response.output_audio.delta"
            )
            assert kinds.index("response.output_audio.done") < kinds.index(
                "response.output_audio_transcript.done"
            )
    return mine[-1][1]


def _about(event: Event, item_id: str) -> bool:
    if event.get("item_id") == item_id:
        return True
    item = event.get("item")
    return (
        isinstance(item, Mapping)
        and item.get("id") == item_id
        and event["type"]
        in (
            "response.output_item.added",
            "response.output_item.done",
            "conversation.item.added",
            "conversation.item.done",
        )
    )


_STAGES = {
    "response.output_item.added": 0,
    "conversation.item.added": 1,
    "response.content_part.added": 2,
    **dict.fromkeys(DELTAS, 3),
    "response.output_audio.done": 4,
    "response.output_text.done": 4,
    "response.function_call_arguments.done": 4,
    "response.output_audio_transcript.done": 5,
    "response.content_part.done": 6,
    "conversation.item.done": 7,
    "response.output_item.done": 8,
}


def _stage(kind: str) -> int:
    return _STAGES[kind]


def test_validated_refuses_a_misparsed_type() -> None:
    """The guard itself: an unknown type must not pass as some other SDK model."""
    good = json.dumps({"type": "input_audio_buffer.cleared", "event_id": "event_1"})
    assert validated(good)["type"] == "input_audio_buffer.cleared"
    bad = json.dumps({"type": "input_audio_buffer.wiped", "event_id": "event_1"})
    try:
        validated(bad)
    except (AssertionError, ValueError):
        return
    raise AssertionError("an unknown event type passed validation")
