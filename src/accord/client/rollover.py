"""Rolling a session over to a new server session before the server's cap (issue 19).

The real server ends a session at its cap (60 minutes) by closing the socket. Met as it
comes, that close is a drop anywhere in the conversation: in the middle of a reply,
while a tool runs. A rollover meets it earlier and at a time of its choosing: from
``expires_at - margin`` on, the next connection is dialled in the background, and the
session switches to it at the first quiet point (:func:`accord.client.quiet.switch_point`:
no response, no call in flight, no operation unanswered; and the user not speaking),
restoring the conversation into the new server session as a reconnect does
(invariant 7). While the restore is acknowledged, the user's audio is held and then
replayed into the new session, after the audio still uncommitted on the old server
(replayed, not committed: committing would end a turn the user had not finished).

If no quiet point comes before the cap, the cap's close is an ordinary drop and the
session reconnects and restores: a rollover can only make the switch earlier and
quieter, never less safe. This module holds the shell's state for it (no clock, no
socket of its own beyond the one it dials); ``accord.session`` drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from accord.client import events as app
from accord.client.expiry import rollover_margin
from accord.client.transport import Transport
from accord.errors import ConnectionLost

log = logging.getLogger("accord.session")

REDIAL_AFTER_S = 1.0  # a failed background dial is tried again after this long


class Rollover:
    """One session's rollover state: the connection being dialled, the user's audio."""

    def __init__(self, margin_s: float | None, cap_s: float | None) -> None:
        self._margin_s = margin_s
        self._cap_s = cap_s
        self._dialing: asyncio.Task[Transport] | None = None
        self._ready: Transport | None = None  # dialled, waiting for a quiet point
        self._retry_at = float("-inf")
        self.speaking = False  # the server's VAD heard speech start and not yet stop
        self._uncommitted: list[bytes] = []  # pushed since the last commit, clear or turn
        self._held: list[bytes] | None = None  # while a switch's restore is acknowledged
        self.previous_session: str | None = None
        self.rollovers = 0

    # -- when -----------------------------------------------------------------------------

    def due(self, wall: float, expires_at: float | None, started_wall: float | None) -> bool:
        """From ``expires_at - margin`` on (the margin from the session's length)."""
        if expires_at is None or self.switching:
            return False
        cap = self._cap_s
        if cap is None:
            cap = expires_at - started_wall if started_wall is not None else 3600.0
        return wall >= expires_at - rollover_margin(self._margin_s, max(cap, 0.0))

    def next_connection(
        self, dial: Callable[[], Awaitable[Transport]], now: float
    ) -> Transport | None:
        """The next connection once it is open; starts dialling it the first time."""
        if self._ready is not None:
            ready, self._ready = self._ready, None
            return ready
        if self._dialing is None:
            if now < self._retry_at:
                return None
            self._dialing = asyncio.ensure_future(dial())
            return None
        if not self._dialing.done():
            return None
        task, self._dialing = self._dialing, None
        failure = task.exception() if not task.cancelled() else None
        if task.cancelled() or failure is not None:
            log.warning("rollover: the next connection could not be opened (%s)", failure)
            self._retry_at = now + REDIAL_AFTER_S
            return None
        return task.result()

    def keep(self, transport: Transport) -> None:
        """Hold an open connection until a quiet point comes."""
        self._ready = transport

    async def discard(self) -> None:
        """Give up the connection being dialled (the cap came first, or the session ends)."""
        ready, self._ready = self._ready, None
        if ready is not None:
            with contextlib.suppress(Exception):
                await ready.close()
        task, self._dialing = self._dialing, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionLost, Exception):
            transport = await task
            await transport.close()

    # -- the switch -----------------------------------------------------------------------

    @property
    def switching(self) -> bool:
        """Switched, and the restore into the new session not yet acknowledged."""
        return self._held is not None

    def switched(self, previous_session: str | None) -> None:
        """The session switched connections: hold the user's audio, starting with what
        the old server had not committed."""
        self.previous_session = previous_session
        self._held = list(self._uncommitted)
        self._uncommitted = []

    def restored(self) -> list[bytes]:
        """The restore was acknowledged: the audio to replay, in order."""
        held, self._held = self._held or [], None
        self.rollovers += 1
        return held

    # -- the user's audio -----------------------------------------------------------------

    def hold(self, pcm: bytes) -> bool:
        """Keep ``pcm`` for the new session while switching (True), else note it as
        uncommitted on the live one (False: send it)."""
        if self._held is not None:
            self._held.append(pcm)
            return True
        self._uncommitted.append(pcm)
        return False

    def committed(self) -> None:
        """The buffer was committed or cleared: nothing of it is left to replay."""
        self._uncommitted.clear()

    def heard(self, event: app.SessionEvent) -> None:
        """The server's VAD: speech started (wait), or stopped (it committed the turn)."""
        if isinstance(event, app.InputSpeechStarted):
            self.speaking = True
        elif isinstance(event, app.InputSpeechStopped):
            self.speaking = False
            self._uncommitted.clear()
