"""Shapes of the real server's events: the SDK's union (rule R02) and key sets (rule R04).

R04's key sets are not written down by hand: they are derived from the recordings in
``tests/data/real-traces`` (all five), so the checker holds a simulator to exactly what
the real server was seen to send. Each event, item, content part, response part,
response, usage block, session (and every object nested in it) is a *kind*; objects with
a ``type`` are told apart by it (``session.audio.input.format:audio/pcm``). One kind can
differ between model generations (``gpt-realtime-2.x`` adds ``phase`` to assistant
messages), so the table is kept per family, and a kind recorded in one family only holds
for every family.

User data is not a shape: ``metadata``, tool parameter schemas and ``status_details`` of
unrecorded statuses are not walked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter, ValidationError

DATA = Path(__file__).parent.parent / "data" / "real-traces"

Event = dict[str, Any]

SDK_SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
#: The SDK model class each server event ``type`` names.
SDK_CLASSES: dict[str, type] = {
    name: model
    for model in get_args(get_args(RealtimeServerEvent)[0])
    for name in get_args(model.model_fields["type"].annotation)
}


def sdk_problem(event: Event) -> str | None:
    """Why the SDK refuses ``event`` (lax or strict), or parses it as another type's class."""
    expected = SDK_CLASSES.get(str(event.get("type")))
    if expected is None:
        return f"type {event.get('type')!r} is not in the SDK's RealtimeServerEvent union"
    for strict in (False, True):
        try:
            parsed = SDK_SERVER_EVENTS.validate_python(event, strict=strict)
        except ValidationError as exc:
            mode = "strict" if strict else "lax"
            return f"{mode} validation failed: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
        if type(parsed) is not expected:
            return f"parsed as {type(parsed).__name__}, not {expected.__name__}"
    return None


def family(model: str | None) -> str:
    """The model generation whose shapes apply: ``2`` for gpt-realtime-2.x, else ``1``."""
    return "2" if (model or "").startswith("gpt-realtime-2") else "1"


def _typed(kind: str, obj: Mapping[str, Any]) -> str:
    tag = obj.get("type")
    return f"{kind}:{tag}" if isinstance(tag, str) else kind


def _nested(kind: str, obj: Mapping[str, Any], skip: frozenset[str]) -> Iterator[tuple[str, Any]]:
    """``obj`` and every dict inside it (not inside lists), each with its kind."""
    yield kind, obj
    for key, value in obj.items():
        if key not in skip and isinstance(value, Mapping):
            yield from _nested(_typed(f"{kind}.{key}", value), value, skip)


def _item_shapes(item: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    kind = f"item:{item.get('type')}"
    if item.get("type") == "message":
        kind += f":{item.get('role')}"
    yield kind, item
    for part in item.get("content") or []:
        if isinstance(part, Mapping):
            yield f"content:{part.get('type')}", part


_RESPONSE_SKIP = frozenset({"metadata", "status_details", "output"})


def shapes(event: Event) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object of ``event`` that has a recorded shape, with its kind."""
    yield f"event:{event.get('type')}", event
    item = event.get("item")
    if isinstance(item, Mapping):
        yield from _item_shapes(item)
    part = event.get("part")
    if isinstance(part, Mapping):
        yield f"part:{part.get('type')}", part
    response = event.get("response")
    if isinstance(response, Mapping):
        yield from _nested("response", response, _RESPONSE_SKIP)
        for out in response.get("output") or []:
            if isinstance(out, Mapping):
                yield from _item_shapes(out)
    session = event.get("session")
    if isinstance(session, Mapping):
        yield from _nested("session", session, frozenset({"tools", "parameters"}))
        for tool in session.get("tools") or []:
            if isinstance(tool, Mapping):
                yield _typed("session.tool", tool), tool
    for limit in event.get("rate_limits") or []:
        if isinstance(limit, Mapping):
            yield "rate_limit", limit
    usage = event.get("usage")
    if isinstance(usage, Mapping):
        yield _typed("transcription.usage", usage), usage
    error = event.get("error")
    if isinstance(error, Mapping):
        yield "error", error


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded session: server events and client frames, in the recorded order.

    ``order`` interleaves them as the recording client saw them: ``("server", i)`` or
    ``("client", j)`` (exact within one direction, approximate across).
    """

    name: str
    server: list[Event]
    client: list[Event]
    order: list[tuple[str, int]]

    @property
    def model(self) -> str | None:
        created = next((e for e in self.server if e.get("type") == "session.created"), None)
        return None if created is None else created["session"].get("model")


def load(path: Path) -> Recording:
    server: list[Event] = []
    client: list[Event] = []
    order: list[tuple[str, int]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "event" not in record:
            continue  # a recorded close
        side = server if record["dir"] == "server" else client
        order.append((record["dir"], len(side)))
        side.append(record["event"])
    return Recording(path.stem, server, client, order)


def recordings() -> list[Recording]:
    return [load(path) for path in sorted(DATA.glob("*.jsonl"))]


KeyTable = dict[str, dict[str, frozenset[str]]]


def derive_keysets(recs: Iterable[Recording]) -> KeyTable:
    """kind -> family -> the one key set recorded for it; two sets in one family fail."""
    table: dict[str, dict[str, set[frozenset[str]]]] = {}
    for rec in recs:
        fam = family(rec.model)
        for event in rec.server:
            for kind, obj in shapes(event):
                table.setdefault(kind, {}).setdefault(fam, set()).add(frozenset(obj))
    out: KeyTable = {}
    for kind, by_family in table.items():
        out[kind] = {}
        for fam, sets in by_family.items():
            if len(sets) != 1:
                raise AssertionError(f"the recordings disagree on the keys of {kind}: {sets}")
            out[kind][fam] = next(iter(sets))
    return out


@cache
def recorded_keysets() -> KeyTable:
    return derive_keysets(recordings())


def expected_keys(table: KeyTable, kind: str, fam: str) -> frozenset[str] | None:
    """The key set ``kind`` must have in ``fam``; None when no recording shows the kind."""
    by_family = table.get(kind)
    if not by_family:
        return None
    if fam in by_family:
        return by_family[fam]
    sets = set(by_family.values())
    return next(iter(sets)) if len(sets) == 1 else None
