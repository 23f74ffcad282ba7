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
from collections import deque
from collections.abc import Awaitable, Callable

from accord.client import events as app
from accord.client.expiry import rollover_margin
from accord.client.transport import Transport
from accord.errors import ConnectionLost

log = logging.getLogger("accord.session")

REDIAL_AFTER_S = 1.0  # a failed background dial is tried again after this long
# After the server's VAD ends a turn it commits the audio, adds the user's item and
# starts its reply, in frames that may straddle a tick: no switch from speech_stopped
# until that item is added (at most MAX_TURN_WAIT_S), and then this long for the reply
# to start, so the turn is never cut between the two sessions.
TURN_SETTLE_S = 0.15
MAX_TURN_WAIT_S = 2.0
# The uncommitted audio kept for a replay: its last seconds (a stream of silence between
# turns must not be replayed whole, nor kept for an hour). 10 s of PCM16 at 24 kHz.
MAX_REPLAY_BYTES = 10 * 48_000

#: What is held while a switch's restore is acknowledged: audio, or a commit or clear
#: of the buffer, replayed in the order the application asked.
Held = bytes | str
COMMIT, CLEAR = "commit", "clear"


class Rollover:
    """One session's rollover state: the connection being dialled, the user's audio."""

    def __init__(self, margin_s: float | None, cap_s: float | None) -> None:
        self._margin_s = margin_s
        self._cap_s = cap_s
        self._dialing: asyncio.Task[Transport] | None = None
        self._ready: Transport | None = None  # dialled, waiting for a quiet point
        self._retry_at = float("-inf")
        self.opened_wall: float | None = None  # when the next connection opened
        self.speaking = False  # the server's VAD heard speech start and not yet stop
        self._settle_until = float("-inf")
        self._awaited_item: str | None = None  # the user item a speech_stopped promises
        self._margin_used = 0.0  # the margin due() last applied
        self._ready_since = 0.0  # when the connection in _ready opened
        self._closing: set[asyncio.Task[None]] = set()
        self._uncommitted: deque[bytes] = deque()  # since the last commit, clear or turn
        self._uncommitted_bytes = 0
        self._held: list[Held] | None = None  # from a switch until the replay
        self._planned = False  # switched, RolledOver not yet told
        self.previous_session: str | None = None
        self.rollovers = 0

    # -- when -----------------------------------------------------------------------------

    def due(self, wall: float, expires_at: float | None, started_wall: float | None) -> bool:
        """From ``expires_at - margin`` on (the margin from the session's length)."""
        if expires_at is None or self._planned or self._held is not None:
            return False
        cap = self._cap_s
        if cap is None:
            cap = expires_at - started_wall if started_wall is not None else 3600.0
        self._margin_used = rollover_margin(self._margin_s, max(cap, 0.0))
        return wall >= expires_at - self._margin_used

    def between_turns(self, now: float) -> bool:
        """The user is not speaking, and a turn the server's VAD ended has settled."""
        return not self.speaking and now >= self._settle_until

    def next_connection(
        self, dial: Callable[[], Awaitable[Transport]], now: float
    ) -> Transport | None:
        """The next connection once it is open; starts dialling it the first time."""
        if self._ready is not None:
            ready, self._ready = self._ready, None
            if now - self._ready_since <= self._margin_used:
                return ready
            # Kept past a margin: its own server session is that much nearer its cap.
            self.close_soon(ready, unread=True)
            self.opened_wall = None
        if self._dialing is None:
            if now < self._retry_at:
                return None
            self._dialing = asyncio.ensure_future(dial())
            return None
        if not self._dialing.done():
            return None
        dialled, self._dialing = self._dialing, None
        failure = dialled.exception() if not dialled.cancelled() else None
        if dialled.cancelled() or failure is not None:
            log.warning("rollover: the next connection could not be opened (%s)", failure)
            self._retry_at = now + REDIAL_AFTER_S
            return None
        self._ready_since = now
        return dialled.result()

    def keep(self, transport: Transport) -> None:
        """Hold an open connection until a quiet point comes (for at most a margin)."""
        self._ready = transport

    async def discard(self) -> None:
        """Give up the connection being dialled (the cap came first, or the session ends)."""
        ready, self._ready = self._ready, None
        self.opened_wall = None
        if ready is not None:
            self.close_soon(ready, unread=True)
        task, self._dialing = self._dialing, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionLost, Exception):
            self.close_soon(await task, unread=True)

    def close_soon(self, transport: Transport, *, unread: bool) -> None:
        """Close a connection in the background. ``unread``: nobody reads it, and a
        websocket's close waits for the server's close frame, which waits behind what
        was sent and never read (``session.created`` at least), so those frames are read
        and dropped; else its reader still reads it and sees the close."""
        work = _drain_and_close(transport) if unread else transport.close()
        closing = asyncio.ensure_future(work)
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    # -- the switch -----------------------------------------------------------------------

    @property
    def switching(self) -> bool:
        """Switched on purpose, and :class:`RolledOver` not yet told."""
        return self._planned

    @property
    def holding(self) -> bool:
        """The user's audio is being held for the new session."""
        return self._held is not None

    def switched(self, previous_session: str | None) -> None:
        """The session switched connections: hold the user's audio, starting with what
        the old server had not committed."""
        self.previous_session = previous_session
        self._planned = True
        self._held = list(self._uncommitted)
        self._forget_uncommitted()

    def told(self) -> None:
        """:class:`RolledOver` went out."""
        self._planned = False
        self.rollovers += 1

    def dropped(self) -> None:
        """A real drop: what was said on the dead connection is gone with it, the user
        is no longer heard speaking; a switch under way becomes that reconnect (audio
        held since the switch is kept for the session that comes)."""
        self._planned = False
        self.speaking = False
        self._forget_uncommitted()

    def release(self) -> list[Held]:
        """The held audio and buffer commands, in order; nothing is held after."""
        held, self._held = self._held or [], None
        return held

    # -- the user's audio -----------------------------------------------------------------

    def hold(self, pcm: bytes) -> bool:
        """Keep ``pcm`` for the new session while switching (True), else note it as
        uncommitted on the live one (False: send it)."""
        if self._held is not None:
            self._held.append(pcm)
            return True
        self._uncommitted.append(pcm)
        self._uncommitted_bytes += len(pcm)
        while self._uncommitted_bytes > MAX_REPLAY_BYTES and len(self._uncommitted) > 1:
            self._uncommitted_bytes -= len(self._uncommitted.popleft())
        return False

    def hold_command(self, command: str) -> bool:
        """A commit or clear of the buffer: held in order while switching (True); else
        the buffer's audio is no longer anyone's to replay (False: send it)."""
        if self._held is not None:
            self._held.append(command)
            return True
        self._forget_uncommitted()
        return False

    def _forget_uncommitted(self) -> None:
        self._uncommitted.clear()
        self._uncommitted_bytes = 0

    def heard(self, event: app.SessionEvent, now: float) -> None:
        """The server's VAD: speech started (wait), or stopped (it committed the turn);
        the turn's user item added (let its reply start before any switch)."""
        if isinstance(event, app.InputSpeechStarted):
            self.speaking = True
        elif isinstance(event, app.InputSpeechStopped):
            self.speaking = False
            self._forget_uncommitted()
            self._awaited_item = event.item_id
            self._settle_until = now + MAX_TURN_WAIT_S
        elif isinstance(event, app.RemoteItemAdded) and event.item.id == self._awaited_item:
            self._awaited_item = None
            self._settle_until = now + TURN_SETTLE_S


async def _drain_and_close(transport: Transport) -> None:
    close = asyncio.ensure_future(transport.close())
    with contextlib.suppress(ConnectionLost, Exception):
        while True:
            await transport.recv()
    with contextlib.suppress(Exception):
        await close
