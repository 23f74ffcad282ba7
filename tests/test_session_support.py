"""Shared tools of the RealtimeSession integration tests (no tests here).

- :class:`Pump`: one task reads ``session.events()`` into a list; tests wait for an event
  matching a predicate, always bounded. An optional handler runs on each event in order
  (a tool runner, a snapshot taken at the exact moment an event arrives).
- :class:`ToolRunner`: answers every ``FunctionCallReady`` with ``tool_started`` /
  ``tool_finished``; while a drop is being restored it holds its answers back, so the
  restored server can be judged before anything new reaches it.
- :func:`tap`: a transport factory that keeps every frame the session sends and counts
  connection attempts.
- :func:`settle`: waits until nothing is left to happen (engine quiet, both simulator
  channels empty, no response running).
- :func:`shape` / :func:`assert_mirror_matches_store`: the mirror against the simulator's
  store on ids, kinds, roles and text (the store keeps ``audio_ms`` for spoken items from
  its own clock; the client computes it from the audio it received).
- :class:`DropWatch`: every restore of a session judged by the verifier's restore judge
  (invariant 7), with the evidence taken from the log and the old server, not from the
  engine it judges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.client import events as app
from accord.client.transport import Endpoint, Transport, WebSocketTransport
from accord.engine import events as ev
from accord.items import FunctionCall, Item, Message
from accord.session import RealtimeSession
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from accord.sim.store import ConversationStore
from accord.verify.audit import Audit
from accord.verify.checker import Violation
from accord.verify.restore import (
    PendingRestore,
    ReceivedAudio,
    carry_open,
    drop_entries,
    judge_restore,
)

TIMEOUT = 5.0  # no single wait in these tests comes near this
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TEXT_TOOLS: dict[str, Any] = {"output_modalities": ["text"], "tools": [WEATHER_TOOL]}


# -- the transport tap -------------------------------------------------------------------


@dataclass
class Tap:
    """What a session sent, frame by frame, and how often it dialled; frames put in
    :attr:`inject` are received before the server's next frame."""

    sent: list[str] = field(default_factory=list)
    dials: int = 0
    inject: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)


class _TappedTransport:
    def __init__(self, inner: Transport, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap
        self._real: asyncio.Future[str | bytes] | None = None  # a server frame on its way

    async def send(self, text: str) -> None:
        self._tap.sent.append(text)
        await self._inner.send(text)

    async def recv(self) -> str | bytes:
        if not self._tap.inject.empty():
            return self._tap.inject.get_nowait()
        if self._real is None:
            self._real = asyncio.ensure_future(self._inner.recv())
        fake = asyncio.ensure_future(self._tap.inject.get())
        await asyncio.wait({self._real, fake}, return_when=asyncio.FIRST_COMPLETED)
        if fake.done():
            return fake.result()  # the server's frame (if any) stays for the next recv
        fake.cancel()
        real, self._real = self._real, None
        return real.result()

    async def close(self) -> None:
        if self._real is not None:
            self._real.cancel()
        await self._inner.close()


def tap(record: Tap) -> Callable[[Endpoint], Awaitable[Transport]]:
    """A ``transport_factory`` over the real websocket transport that records."""

    async def factory(endpoint: Endpoint) -> Transport:
        record.dials += 1
        return _TappedTransport(await WebSocketTransport.open(endpoint), record)

    return factory


# -- events ------------------------------------------------------------------------------


Handler = Callable[[app.SessionEvent], None]


class Pump:
    """Reads the session's events into :attr:`seen`; waits are bounded."""

    def __init__(self, session: RealtimeSession, *handlers: Handler) -> None:
        self.session = session
        self.seen: list[app.SessionEvent] = []
        self.handlers = list(handlers)
        self.ended = False
        self._changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for event in self.session.events():
                for handler in self.handlers:
                    handler(event)
                self.seen.append(event)
                self._changed.set()
        finally:
            self.ended = True
            self._changed.set()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]

    async def wait_for(
        self,
        kind: type[Any],
        predicate: Callable[[Any], bool] = lambda _e: True,
        *,
        after: int = 0,
        timeout: float = TIMEOUT,
    ) -> Any:
        """The first event of ``kind`` at index >= ``after`` that matches."""

        async def scan() -> Any:
            index = after
            while True:
                while index < len(self.seen):
                    event = self.seen[index]
                    index += 1
                    if isinstance(event, kind) and predicate(event):
                        return event
                if self.ended:
                    raise AssertionError(f"events ended before a {kind.__name__} arrived")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class ToolRunner:
    """Answers each ready call at once (``tool_started`` then ``tool_finished``), except
    between a ``Disconnected`` and its ``Reconnected``: calls that become ready then are
    answered right after the restore, so the restored store is judged untouched."""

    def __init__(self, session: RealtimeSession, output: str = '{"temp": 18}') -> None:
        self.session = session
        self.output = output
        self.answered: list[str] = []
        self.held: list[str] = []
        self.restoring = False

    def __call__(self, event: app.SessionEvent) -> None:
        if isinstance(event, app.Disconnected):
            self.restoring = event.will_reconnect
        elif isinstance(event, app.Reconnected):
            self.restoring = False
            held, self.held = self.held, []
            for call_id in held:
                self._answer(call_id)
        elif isinstance(event, app.FunctionCallReady):
            if self.restoring:
                self.held.append(event.call.call_id)
            else:
                self._answer(event.call.call_id)

    def _answer(self, call_id: str) -> None:
        if call_id in self.answered:
            return
        self.answered.append(call_id)
        self.session.tool_started(call_id)
        self.session.tool_finished(call_id, self.output)


# -- quiet -------------------------------------------------------------------------------


def channels_empty(sim_session: SimSession) -> bool:
    return sim_session.inbox.pending == 0 and sim_session.outbox.pending == 0


async def settle(
    session: RealtimeSession,
    sim_session: SimSession,
    *,
    timeout: float = TIMEOUT,
    stable_checks: int = 4,
    interval: float = 0.01,
) -> None:
    """Wait until nothing is left to happen: engine quiet, both channels empty, no
    response running on the server, several checks in a row."""

    def quiet() -> bool:
        return (
            session.core.engine.is_quiet()
            and channels_empty(sim_session)
            and sim_session.active is None
            and not sim_session.out_of_band
            and session._outbox.empty()
        )

    async def loop() -> None:
        streak = 0
        while streak < stable_checks:
            await asyncio.sleep(interval)
            streak = streak + 1 if quiet() else 0

    await asyncio.wait_for(loop(), timeout)


# -- comparing the mirror with the store -------------------------------------------------


def shape(item: Item) -> tuple[Any, ...]:
    """What must agree between the client and the server: kind, id, role, text, call."""
    if isinstance(item, Message):
        return ("message", item.id, item.role, item.text)
    if isinstance(item, FunctionCall):
        return ("call", item.id, item.call_id, item.name, item.arguments)
    return ("output", item.id, item.call_id, item.output)


def shapes(items: Sequence[Item]) -> list[tuple[Any, ...]]:
    return [shape(i) for i in items]


def assert_mirror_matches_store(session: RealtimeSession, sim_session: SimSession) -> None:
    mirror = shapes(session.core.engine.mirror_items())
    store = shapes(sim_session.store.items())
    assert mirror == store, f"mirror {mirror}\n!= store {store}"


# -- judging a restore (invariant 7) -----------------------------------------------------


class DropWatch:
    """Judges every restore of a session with the verifier's one restore judge
    (:mod:`accord.verify.restore`), as the pair harness and the stress run do.

    An :class:`~accord.verify.audit.Audit` logs what the session core sends. At each drop
    the expected state is taken from the engine's frozen projected items, but where a
    turn was cut comes from the truncates the client sent, its full transcript from the
    old simulator session's store and its length from the audio frames the client
    received: the engine's own notes on them are not its judge's evidence. When the engine
    reports the restore done, the new store is judged (and its items kept in
    :attr:`restored`); the application events that follow are kept too."""

    def __init__(self, session: RealtimeSession, sim: SimServer) -> None:
        self.session = session
        self.sim = sim
        self.restored: list[list[Item]] = []
        self.verdicts: list[list[Violation]] = []
        self.reconnected: list[app.Reconnected] = []
        self.disconnected: list[app.Disconnected] = []
        self._known = len(sim.sessions)  # simulator sessions that served earlier connections
        self._empty = ConversationStore()  # the new server until its session is known
        self._pending: PendingRestore | None = None
        self._problems: list[str] = []
        self.audit = Audit(self._store)
        self.audit.attach(session.core)
        self.received = ReceivedAudio()
        self.received.attach(session.core)
        session.core.observers.append(self._observe)
        previous = session.core._on_effect

        def on_effect(effect: ev.Effect) -> None:
            previous(effect)
            if isinstance(effect, ev.Reconnected):
                self._judge(effect.lost)

        session.core._on_effect = on_effect

    def _store(self) -> ConversationStore:
        """The store of the connection in use (an empty one between a drop and the new
        simulator session: a new server starts empty)."""
        sessions = self.sim.sessions
        return sessions[-1].store if len(sessions) >= self._known else self._empty

    def _observe(self, what: str, details: dict[str, Any]) -> None:
        if what != "connection_lost":
            return
        if self._pending is None:  # a drop during a restore keeps the first projected state
            engine, store = self.session.core.engine, self._store()
            entries = drop_entries(engine, store, self.audit.log, self.received)
            if entries is None:
                self._problems.append("the engine kept no projected state at the drop")
            else:
                self._pending = PendingRestore(tuple(entries))
        self.audit.log = carry_open(self.audit.log)
        self._known = len(self.sim.sessions) + 1  # the next connection gets a new one

    def _judge(self, reported_lost: Sequence[str]) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        store = self._store()
        self.restored.append(store.items())
        self.verdicts.append(
            judge_restore(store, self.audit.log, pending, reported_lost, over_the_wire=True)
        )

    def __call__(self, event: app.SessionEvent) -> None:
        """A pump handler: keeps the drop's and the reconnect's application events."""
        if isinstance(event, app.Disconnected):
            self.disconnected.append(event)
        elif isinstance(event, app.Reconnected):
            self.reconnected.append(event)

    def problems(self, index: int = -1) -> list[str]:
        """What breaks invariant 7 in the restore at ``index`` (empty: nothing)."""
        if self._problems:
            return list(self._problems)
        if not self.verdicts:
            return ["no restore was reported done"]
        return [str(v) for v in self.verdicts[index]]
