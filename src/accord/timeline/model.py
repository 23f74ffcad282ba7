"""What a timeline page shows: rows on three lanes, built once from a trace.

A row is one thing that happened at one moment on one lane: the application's calls
(pushes with their reports, tool runs as spans), the client operations sent on the
wire (each joined to the server event that acknowledged or refused it), and the
server's side (events, responses with their output items, spoken audio segments).
Violations of the checker's invariants are rows too, placed where the breakage shows.

Rows are plain frozen dataclasses so the renderer can serialise them to the page's
JSON without knowing how they were found; ``items`` on every row is what the page's
filter and the violation highlight match on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Lane = Literal["app", "wire", "server"]
RowKind = Literal["call", "push", "tool", "op", "event", "response", "audio", "violation", "lost"]
OpStatus = Literal["acked", "failed", "sent"]

#: The longest frame a row keeps for its hover card; longer ones are cut (a 60-minute
#: session's page stays a few megabytes, not the size of its audio).
FRAME_LIMIT = 1200


@dataclass(frozen=True)
class Row:
    """One thing on one lane. ``end`` is set for spans (tool runs, responses, audio).

    For an op: ``ref`` is its client ``event_id``, ``status`` how it resolved and
    ``link`` the index of the event that acknowledged or refused it. For an event:
    ``ref`` is the op id it acknowledges (if any), ``count`` how many consecutive deltas
    this row stands for."""

    index: int
    t: float
    lane: Lane
    kind: RowKind
    label: str
    type: str = ""
    items: tuple[str, ...] = ()
    ref: str | None = None
    status: OpStatus | None = None
    link: int | None = None
    end: float | None = None
    count: int = 1
    detail: str = ""
    frame: str = ""
    action: str = ""  # an op's effect on an item: create, delete, truncate, retrieve


@dataclass
class Timeline:
    """A whole session: its rows in time order and what the header tells."""

    title: str
    strategy: str
    rows: list[Row] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # the recorded run's own verdict
    involved: tuple[str, ...] = ()  # item ids of every violation, highlighted on all lanes
    replayed: bool = False  # push reports and violations come from an engine replay
    duration: float = 0.0
    unit: str = "s"  # what t counts: seconds of a session, or an explored schedule's steps

    def count(self, kind: RowKind) -> int:
        """How many things of ``kind`` the rows stand for (aggregated deltas counted)."""
        return sum(row.count for row in self.rows if row.kind == kind)

    @property
    def acks(self) -> int:
        """Events that acknowledge or refuse an operation."""
        return sum(1 for row in self.rows if row.kind == "event" and row.ref is not None)


def clip(frame: str, limit: int = FRAME_LIMIT) -> str:
    """``frame`` cut to ``limit`` characters, saying how much was left out."""
    if len(frame) <= limit:
        return frame
    return f"{frame[:limit]}... ({len(frame) - limit} more characters)"
