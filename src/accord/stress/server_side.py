"""The simulator's side of one stress session: the simulator sessions that served it.

A client session may be served by several simulator sessions in turn (one per
connection: a Realtime server cannot be resumed after a drop). The judge reads the store
of the current one; the worker routes each new simulator session here by the model name
the client dialled with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.sim.session import SimSession
from accord.sim.store import ConversationStore


@dataclass
class ServerSide:
    """The simulator sessions that served one client, in connection order.

    After a drop the old store is final; until the new connection's simulator session
    appears, the current store is an empty one (a new server starts empty), so nothing
    is logged against the old store's clock."""

    sessions: list[SimSession] = field(default_factory=list)
    expect_after: int = 0
    # A resumed session: inputs its restored conversation shows answered, so the new
    # server counts a reply that sees nothing else as a duplicate (across the resume).
    answered: frozenset[str] = frozenset()
    _empty: ConversationStore = field(default_factory=ConversationStore)

    def add(self, session: SimSession) -> None:
        if self.answered:
            session.replies.already_answered(self.answered)
        self.sessions.append(session)

    def current(self) -> SimSession | None:
        return self.sessions[-1] if len(self.sessions) > self.expect_after else None

    def store(self) -> ConversationStore:
        current = self.current()
        return current.store if current is not None else self._empty

    def dropped(self) -> None:
        self.expect_after = len(self.sessions)

    def quiet(self) -> bool:
        """Nothing in either channel and no response running on the server."""
        current = self.current()
        return current is not None and (
            current.inbox.pending == 0
            and current.outbox.pending == 0
            and current.active is None
            and not current.out_of_band
        )

    def events(self) -> int:
        return sum(s.events_delivered for s in self.sessions)

    def refusals(self) -> int:
        """Operations the simulator answered with an injected server_error."""
        return sum(s.refusals for s in self.sessions)

    def evicted(self) -> int:
        """Items the servers' truncation dropped by itself (session.truncation)."""
        return sum(len(s.store.evicted) for s in self.sessions)

    def duplicate_replies(self) -> int:
        """Replies beyond the first to one user turn or tool output, on every server."""
        return sum(s.duplicate_replies for s in self.sessions)
