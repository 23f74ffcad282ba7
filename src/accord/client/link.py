"""The session's connection: reading, writing, ticking, recovering, rolling over.

:class:`SessionLink` is the half of :class:`accord.session.RealtimeSession` that keeps a
socket: the reader, writer and ticker tasks, the reconnect with backoff after a drop,
and the rollover before the server's cap (``client/rollover.py``). The other half, the
application's calls and the waiters they return, is ``accord.session``. The two share
the session's state; this class declares what it reads, and the session defines the
hooks it calls (``_send``, ``_on_event``, ``_fail_waiters``, ``expires_at``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord.client import events as app
from accord.client.core import SessionCore
from accord.client.options import SessionOptions
from accord.client.quiet import switch_point
from accord.client.recording import Recorder
from accord.client.rollover import Rollover
from accord.client.transport import Endpoint, Transport, WebSocketTransport
from accord.errors import ConnectionLost


@dataclass(frozen=True, slots=True)
class Swap:
    """In the outbox: every frame before it goes out on the old connection; then the
    writer makes ``transport`` the live one and closes the old (a rollover)."""

    transport: Transport


class SessionLink:
    """The connection half of a session (see the module docstring)."""

    endpoint: Endpoint
    options: SessionOptions
    core: SessionCore
    recorder: Recorder | None
    telemetry: Any
    reconnects: int
    _loop: asyncio.AbstractEventLoop
    _events: asyncio.Queue[app.SessionEvent | None]
    _outbox: asyncio.Queue[str | Swap | None]
    _transport: Transport | None
    _tasks: list[asyncio.Task[None]]
    _tick_handle: asyncio.TimerHandle | None  # the next tick (client/link.py _tick)
    _tick_context: contextvars.Context | None
    _tick_callback: Callable[[], None] | None
    _retired: Transport | None  # the connection a rollover left: what it says is ignored
    _closed: bool
    _failure: BaseException | None
    _reconnecting: bool
    _attempts: int
    _delay: float
    _connected_at: float
    _created_wall: float | None
    _session_id: str | None
    _rollover: Rollover | None

    # -- the hooks the session defines ----------------------------------------------------

    @property
    def expires_at(self) -> float | None:
        raise NotImplementedError

    def _send(self, frames: list[str]) -> None:
        raise NotImplementedError

    def _on_event(self, event: app.SessionEvent) -> None:
        raise NotImplementedError

    def _fail_waiters(self, exc: BaseException) -> None:
        raise NotImplementedError

    # -- the tasks ------------------------------------------------------------------------

    async def _dial(self) -> Transport:
        factory = self.options.transport_factory or WebSocketTransport.open
        return await factory(self.endpoint)

    async def _read(self) -> None:
        while not self._closed:
            transport = self._transport
            assert transport is not None
            try:
                frame = await transport.recv()
            except ConnectionLost as lost:
                if transport is self._retired:
                    await asyncio.sleep(0)  # its end is no drop: the writer swaps
                    continue
                if not await self._recover(lost):
                    return
                continue
            if transport is self._retired:
                continue  # a late frame of the connection a rollover left
            now = self._now()
            if self.recorder is not None:
                self.recorder.frame_in(frame, now)
            self._send(self.core.receive_frame(frame, now))
            parsed = self.core.take_parsed()
            if self.telemetry is not None:  # telemetry (issue 21)
                self.telemetry.frame_in(frame, parsed)

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            if frame is None:
                return
            if isinstance(frame, Swap):
                old, self._transport = self._transport, frame.transport
                if old is not None and self._rollover is not None:  # the restore goes now
                    self._rollover.close_soon(old, unread=False)
                continue
            if self._transport is None:
                continue
            with contextlib.suppress(ConnectionLost):  # the reader sees it and recovers
                await self._transport.send(frame)

    def _start_ticking(self) -> None:
        """Time for the core every ``tick_interval``: a timer callback, not a task.

        A task sleeping in a loop made a coroutine, a future, a timer, a context and a
        wake-up handle per tick (4 Hz per session), each living the whole interval: with
        many sessions the collector promoted them all. Now one timer handle per tick, run
        in one context copied here (as a task would have run all its steps)."""
        self._tick_context = contextvars.copy_context()
        self._tick_callback = self._tick  # one bound method for every tick
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        if self._closed or self._tick_callback is None:
            return
        self._tick_handle = self._loop.call_later(
            self.options.tick_interval, self._tick_callback, context=self._tick_context
        )

    def _stop_ticking(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        self._tick_callback = None  # it refers to the session: no cycle left at close

    def _tick(self) -> None:
        self._tick_handle = None
        if self._closed:
            return
        now = self._now()
        if self.recorder is not None:
            self.recorder.call("tick", now)
        self.core.tick(now)
        self._flush_core()
        if self._rollover is not None and not self._reconnecting:
            self._roll_over_if_due(self._rollover, now)
        self._schedule_tick()  # after the work, as the sleeping loop did (not on a raise)

    def _roll_over_if_due(self, roll: Rollover, now: float) -> None:
        """Before the cap, at a quiet point: switch to a new connection (client/rollover.py).

        Synchronous from the check to the swap: nothing can come between them."""
        if self._closed or self._failure is not None:
            return
        if not roll.due(time.time(), self.expires_at, self._created_wall):
            return
        fresh = roll.next_connection(self._dial, now)
        if fresh is None:
            return
        if roll.opened_wall is None:
            roll.opened_wall = time.time()  # the new server session's clock starts here
        if not (switch_point(self.core) and roll.between_turns(now)):
            roll.keep(fresh)  # not quiet yet: the next tick asks again
            return
        self._retired = self._transport
        roll.switched(self._session_id)
        if self.recorder is not None:
            self.recorder.call("connection_lost", now)
        self.core.connection_lost(now)  # quiet: nothing in flight, nothing fails
        # What is queued (the user's audio) still goes to the old connection; then the
        # writer swaps, and the restore below goes to the new one.
        self._outbox.put_nowait(Swap(fresh))
        if self.recorder is not None:
            self.recorder.call("connected_again", now)
        self.core.connected_again(now)  # the restore, into the new server session
        self._flush_core()

    async def _recover(self, lost: ConnectionLost) -> bool:
        """Reconnect with backoff and restore; False when the session is over."""
        now = self._now()
        if self.recorder is not None:
            self.recorder.call("connection_lost", now)
        self.core.connection_lost(now)
        self._drain_outbox()
        self._reconnecting = True
        if self._rollover is not None:
            self._rollover.dropped()
            await self._rollover.discard()  # the cap (or a drop) came before a quiet point
        try:
            return await self._reconnect(lost, now)
        finally:
            self._reconnecting = False

    async def _reconnect(self, lost: ConnectionLost, now: float) -> bool:
        will = self.options.reconnect and not lost.final and not self._closed
        self._on_event(app.Disconnected(lost.reason, lost.code, will))
        # Attempts and backoff carry over until a connection has stayed up a while: a
        # server that accepts and drops at once is not redialled forever at full speed.
        if now - self._connected_at >= self.options.healthy_after:
            self._attempts, self._delay = 0, self.options.backoff_initial
        while will and self._attempts < self.options.max_reconnect_attempts:
            self._attempts += 1
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, self.options.backoff_max)
            try:
                self._transport = await self._dial()
            except ConnectionLost as again:
                if again.final:
                    lost = again
                    break
                continue
            self.reconnects += 1
            now = self._now()
            self._connected_at = now
            if self.recorder is not None:
                self.recorder.call("connected_again", now)
            self.core.connected_again(now)
            self._flush_core()
            return True
        if not lost.final:
            # Given up (or reconnects are off): the session is over, say so as final.
            tried = f"; gave up after {self._attempts} reconnect attempt(s)" if will else ""
            lost = ConnectionLost(f"{lost.reason}{tried}", code=lost.code, final=True)
        if will:
            self._on_event(app.Disconnected(lost.reason, lost.code, False))
        self._failure = lost
        self._fail_waiters(lost)
        self._events.put_nowait(None)
        return False

    def _now(self) -> float:
        return self._loop.time()

    def _flush_core(self) -> None:
        self._send(self.core.frames())

    def _drain_outbox(self) -> None:
        while not self._outbox.empty():
            dropped = self._outbox.get_nowait()
            if isinstance(dropped, Swap) and self._rollover is not None:
                self._rollover.close_soon(dropped.transport, unread=True)  # never swapped to
