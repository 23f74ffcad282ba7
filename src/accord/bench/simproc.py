"""The simulator in its own process, so its work is not counted against the client's.

The benchmarks that talk to a simulator (``update``, ``sessions``) start it here: a
spawned process running :class:`~accord.sim.server.SimServer` with the given
configuration, whose URL comes back through a queue. The process can be asked for its
CPU time and resident memory (Linux ``/proc``), to tell whether the simulator or the
client was the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue as queue_module
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accord.sim.config import SimConfig

START_TIMEOUT_S = 60.0


def raise_open_files() -> tuple[int, int]:
    """Raise this process's soft limit of open files to its hard limit (each session is
    a socket on both sides); return the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _serve(queue: Any, config: SimConfig, asks: Any, answers: Any) -> None:
    from accord.sim.server import SimServer

    raise_open_files()

    async def run() -> None:
        sim = SimServer(config)
        await sim.start()
        queue.put(sim.url)
        while True:  # the parent's questions, answered between the sessions' events
            await asyncio.to_thread(asks.get)
            answers.put(
                {sid: [item["id"] for item in items] for sid, items in sim.conversations().items()}
            )

    asyncio.run(run())


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


@dataclass
class SimProcess:
    url: str
    pid: int
    asks: Any = None
    answers: Any = None

    def conversation_ids(self, timeout: float = 30.0) -> dict[str, list[str]]:
        """Every server session's item ids, in order, by session id: what the
        simulator holds, for a judge of what each client believes it holds."""
        self.asks.put("conversations")
        answer: dict[str, list[str]] = self.answers.get(timeout=timeout)
        return answer

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the simulator process so far (None off Linux)."""
        fields = _proc_stat(self.pid)
        if fields is None:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def rss_bytes(self) -> int | None:
        fields = _proc_stat(self.pid)
        if fields is None:
            return None
        return int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def _wait_for_url(queue: Any, server: Any) -> str:
    """The URL the child reports; fails at once if the child dies before it does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            return str(queue.get(timeout=0.2))
        except queue_module.Empty:
            if not server.is_alive():
                raise RuntimeError(
                    f"the simulator process exited (code {server.exitcode}) before serving"
                ) from None
    raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S:g} s")


@contextlib.contextmanager
def simulator_process(config: SimConfig) -> Iterator[SimProcess]:
    """Run a simulator with ``config`` in a spawned process for the ``with`` block."""
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    asks: Any = context.Queue()
    answers: Any = context.Queue()
    server = context.Process(target=_serve, args=(queue, config, asks, answers), daemon=True)
    server.start()
    try:
        url = _wait_for_url(queue, server)
        assert server.pid is not None
        yield SimProcess(url, server.pid, asks, answers)
    finally:
        server.terminate()
        server.join(timeout=5)
        if server.is_alive():
            server.kill()
            server.join(timeout=5)
