"""One benchmark client session: an agent on a :class:`RealtimeSession`, its
100-item conversation, and its turn loop.

Every session runs what an application would: an :class:`~accord.agent.AgentRunner`
with one async function tool, and a reader of the runner's events (which also drains
them, as an application must). Its transport counts the server events it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from accord.agent import Agent, AgentRunner, ToolFinished, Transcript
from accord.client.events import ServerErrorEvent
from accord.client.transport import Endpoint, Transport, WebSocketTransport
from accord.items import Message, Role
from accord.session import RealtimeSession
from accord.tools import function_tool

CONVERSATION_ITEMS = 100
TOOL_EVERY = 3  # every third turn names the tool, and the simulator's model calls it
TOOL_TURN = "What is the weather in Paris today?"


@function_tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 18C, light wind"


AGENT = Agent("You are a helpful assistant. Keep answers short.", tools=[get_weather])


@dataclass
class Tally:
    """What every session adds to: server frames received, tool calls, errors."""

    frames: int = 0
    tool_calls: int = 0
    server_errors: int = 0
    turn_errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.turn_errors[kind] = self.turn_errors.get(kind, 0) + 1


class CountingTransport:
    """A websocket transport that counts the frames it receives."""

    def __init__(self, inner: Transport, tally: Tally) -> None:
        self._inner = inner
        self._tally = tally

    async def send(self, text: str) -> None:
        await self._inner.send(text)

    async def recv(self) -> str | bytes:
        frame = await self._inner.recv()
        self._tally.frames += 1
        return frame

    async def close(self) -> None:
        await self._inner.close()


def conversation_text(i: int) -> str:
    """About 100 characters of a turn, different for every item."""
    return (
        f"Turn {i}: "
        + "a sentence of ordinary length about the weather, trains and lunch "
        + (f"plans ({i}).")
    )


@dataclass
class BenchSession:
    """A connected session, its runner, and the reader that drains the runner's events."""

    session: RealtimeSession
    runner: AgentRunner
    tally: Tally
    reader: asyncio.Task[None] | None = None
    waiting: asyncio.Future[float] | None = None  # the current turn's reply
    latencies: list[float] = field(default_factory=list)
    started: int = 0
    phase: int = 0  # which of every three turns is the tool turn: spread over sessions

    @classmethod
    async def open(cls, url: str, tally: Tally, seed: int) -> BenchSession:
        async def dial(endpoint: Endpoint) -> Transport:
            return CountingTransport(await WebSocketTransport.open(endpoint), tally)

        session = await RealtimeSession.connect(
            url,
            api_key="sk-bench",
            session=AGENT.session_config(),
            seed=seed,
            transport_factory=dial,
        )
        bench = cls(session, AGENT.start(session), tally, phase=seed % TOOL_EVERY)
        bench.reader = asyncio.ensure_future(bench._read())
        return bench

    async def fill(self, items: int = CONVERSATION_ITEMS) -> None:
        """Give the session its conversation: ``items`` messages, pushed at once."""
        ctx = self.session.chat_ctx
        for i in range(items):
            role: Role = "user" if i % 2 == 0 else "assistant"
            ctx.append(Message(id=f"hist_{i}", role=role, content=conversation_text(i)))
        await self.session.update_chat_ctx(ctx)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for event in self.runner.events():
            if isinstance(event, Transcript) and event.role == "assistant":
                if self.waiting is not None and not self.waiting.done():
                    self.waiting.set_result(loop.time())
            elif isinstance(event, ToolFinished):
                self.tally.tool_calls += 1
            elif isinstance(event, ServerErrorEvent):
                self.tally.server_errors += 1

    async def turns(self, first_at: float, period: float, until: float) -> None:
        """A text turn every ``period`` seconds from ``first_at`` until ``until`` (loop
        time); each waits for its reply (after the tool's, on a tool turn). A turn that
        overruns its period delays the next: it is never skipped or overlapped."""
        loop = asyncio.get_running_loop()
        due = first_at
        while due < until:
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.started += 1
            tool_turn = (self.started + self.phase) % TOOL_EVERY == 0
            text = TOOL_TURN if tool_turn else f"Hello, this is turn {self.started}."
            start = loop.time()
            self.waiting = loop.create_future()
            try:
                await self.runner.say(text)
                done_at = await self.waiting
            except Exception as exc:
                self.tally.error(type(exc).__name__)
            else:
                self.latencies.append(done_at - start)
            due = max(due + period, loop.time())

    async def aclose(self) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.cancel()
        await self.runner.aclose()
        await self.session.aclose()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
