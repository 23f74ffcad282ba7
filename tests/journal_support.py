"""Journal stores for tests: a SQLite file, and a real ``redis-server`` on a loopback port.

The Redis store is tested against a real server, started here on an ephemeral port with
persistence off; a test that needs it is skipped (saying why) only when no
``redis-server`` binary can be found (``.ci/run`` installs Debian's package) or the
``redis`` client is missing.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from accord import Agent, Resumed, function_tool
from accord.journal import JournalStore, Record, StoreWrapper
from accord.session import RealtimeSession
from accord.sim.server import SimServer

START_TIMEOUT_S = 10.0
QUESTION = "what's the weather in Paris?"
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


@contextmanager
def redis_server() -> Iterator[str]:
    """A ``redis-server`` on 127.0.0.1 and a free port; yields its ``redis://`` URL."""
    binary = redis_binary()
    if binary is None:
        pytest.skip(
            "redis-server is not installed: the Redis journal tests are SKIPPED "
            "(apt-get install redis-server; .ci/run installs it)"
        )
    try:
        import redis
    except ImportError:
        pytest.skip("the redis client is not installed (pip install 'accord[redis]'): SKIPPED")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {port} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh journal URL of each store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"  # an absolute path: four slashes
    url: str = request.getfixturevalue("redis_url")
    return url


# -- a journaled tool turn and its resume ----------------------------------------------


class Frozen(StoreWrapper):
    """A store that keeps its first ``keep`` appends and silently drops the rest."""

    def __init__(self, inner: JournalStore, keep: int) -> None:
        super().__init__(inner)
        self.keep, self.appends = keep, 0

    def append(self, key: str, records: Sequence[Record]) -> None:
        self.appends += 1
        if self.appends <= self.keep:
            self.inner.append(key, records)


def weather_agent(*, idempotent: bool, block: asyncio.Event | None = None) -> Agent:
    @function_tool(idempotent=idempotent)
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        if block is not None:
            await block.wait()
        return f'{{"city": "{city}", "temp": 18}}'

    return Agent(instructions="You help.", tools=[get_weather])


async def run_turn(sim: SimServer, store: JournalStore, *, idempotent: bool = False) -> str:
    agent = weather_agent(idempotent=idempotent)
    async with RealtimeSession.connect(
        sim.url, api_key="sk-test", session=agent.session_config(), journal=store
    ) as session:
        runner = agent.start(session)
        await runner.say(QUESTION)
        await runner.wait_idle(TIMEOUT)
        await runner.aclose()
        assert session.key is not None
        return session.key


async def resume(
    sim: SimServer, store: JournalStore, key: str, *, idempotent: bool = False
) -> Resumed:
    agent = weather_agent(idempotent=idempotent)
    async with RealtimeSession.resume(sim.url, journal=store, key=key, api_key="sk-test") as s:
        assert s.key == key
        runner = agent.start(s)
        resumed = None
        async for event in runner.events():
            if isinstance(event, Resumed):
                resumed = event
                break
        await runner.wait_idle(TIMEOUT)
        await runner.aclose()
    assert resumed is not None
    return resumed
