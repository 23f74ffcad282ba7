"""One direction of a connection as a FIFO with transit delay, and hooks to hold it.

Latency and jitter are modelled as transit time on the channel, not as service time per
event: every message is due at ``sent + latency +/- jitter`` but never before the message
ahead of it (a FIFO does not reorder). A test can :meth:`hold` the channel, let exactly
``n`` messages through with :meth:`release`, and so force an exact interleaving of the
two directions (races R6, R14).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Transit:
    """Transit delay of one direction: ``latency_ms`` +/- ``jitter_ms``, seeded."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int | None = None


class DelayedChannel(Generic[T]):
    """Messages go in with :meth:`put`; a pump task hands each to ``deliver`` when due."""

    def __init__(
        self,
        deliver: Callable[[T], Awaitable[None]],
        transit: Transit = Transit(),  # a frozen value
        *,
        name: str = "channel",
    ) -> None:
        self._deliver = deliver
        self._transit = transit
        self._rng = random.Random(transit.seed)
        self._queue: deque[tuple[float, T]] = deque()
        self._wakeup = asyncio.Event()
        self._held = False
        self._allowance = 0  # messages a held channel may still let through
        self._last_due = 0.0
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.name = name
        self.delivered = 0

    # -- control ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump(), name=self.name)

    def hold(self) -> None:
        """Stop delivering; messages keep queueing in order."""
        self._held = True
        self._allowance = 0

    def release(self, n: int | None = None) -> None:
        """Deliver ``n`` more held messages (all, and stop holding, when None)."""
        if n is None:
            self._held = False
        else:
            self._allowance += n
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def put(self, message: T) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        delay = self._transit.latency_ms
        if self._transit.jitter_ms:
            delay += self._rng.uniform(-self._transit.jitter_ms, self._transit.jitter_ms)
        due = max(loop.time() + max(delay, 0.0) / 1000.0, self._last_due)
        self._last_due = due
        self._queue.append((due, message))
        self._wakeup.set()

    async def drain(self) -> None:
        """Wait until everything queued so far has been delivered."""
        while self._queue and not self._closed:
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            # The pump's own failure (a peer gone mid-send) must not stop the closing.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # -- the pump -----------------------------------------------------------------------

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not self._queue or (self._held and self._allowance == 0):
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            due, message = self._queue[0]
            wait = due - loop.time()
            if wait > 0:
                # Due times never decrease (FIFO), so nothing put meanwhile is due
                # sooner: a plain sleep, far cheaper than a wait_for per message.
                await asyncio.sleep(wait)
                continue
            self._queue.popleft()
            if self._held:
                self._allowance -= 1
            self.delivered += 1
            await self._deliver(message)
