"""What every rule works on: a :class:`Trace`, and the :class:`Violation` it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from trace_rules.shapes import Event, KeyTable


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    index: int | None  # position of the server event concerned, when there is one
    message: str

    def __str__(self) -> str:
        where = "" if self.index is None else f" @{self.index}"
        return f"{self.rule}{where}: {self.message}"


@dataclass
class Trace:
    """One session as a client saw it. ``webrtc``: a sideband session (R16)."""

    server: list[Event]
    client: list[Event] = field(default_factory=list)
    webrtc: bool = False
    name: str = ""
    keysets: KeyTable | None = None  # R04's table; the recordings' by default
    report_unrecorded: bool = False  # R04: an event type no recording shows is a violation

    @property
    def model(self) -> str | None:
        for event in self.server:
            if event.get("type") == "session.created":
                session = event.get("session")
                return session.get("model") if isinstance(session, Mapping) else None
        return None

    def of_type(self, *kinds: str) -> Iterator[tuple[int, Event]]:
        return ((i, e) for i, e in enumerate(self.server) if e.get("type") in kinds)


Rule = Callable[[Trace], list[Violation]]


def response_id(event: Event) -> str | None:
    if event.get("type") in ("response.created", "response.done"):
        response = event.get("response")
        return response.get("id") if isinstance(response, Mapping) else None
    value = event.get("response_id")
    return value if isinstance(value, str) else None


def client_ids(trace: Trace, kind: str) -> set[str]:
    return {
        str(frame["event_id"])
        for frame in trace.client
        if frame.get("type") == kind and isinstance(frame.get("event_id"), str)
    }


def echoing_errors(trace: Trace, event_ids: set[str]) -> set[str]:
    return {
        e["error"]["event_id"]
        for _, e in trace.of_type("error")
        if isinstance(e.get("error"), Mapping) and e["error"].get("event_id") in event_ids
    }
