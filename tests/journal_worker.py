"""A worker process for the crash tests (tests/test_journal_crash.py): one tool turn that
SIGKILLs itself right after its journal's n-th write, or the resume of such a turn.

    python journal_worker.py turn SIM_URL JOURNAL_URL KEY KILL_AT IDEMPOTENT [before]
    python journal_worker.py resume SIM_URL JOURNAL_URL KEY IDEMPOTENT

``turn`` prints the number of journal writes when it was not killed (KILL_AT 0 never
kills); with ``before`` it is killed as the n-th write begins instead (what the step
before it sent is out, nothing of the n-th step is journaled); ``resume`` prints the
Resumed event as JSON once the resumed session is idle.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence

from accord import Agent, Resumed, function_tool
from accord.journal import JournalStore, Record, StoreWrapper, open_journal
from accord.session import RealtimeSession

QUESTION = "what's the weather in Paris?"
IDLE_TIMEOUT_S = 20.0


class KillAfter(StoreWrapper):
    """The store, and a SIGKILL of this process right after its n-th append returned
    (or as it begins, ``before``)."""

    def __init__(self, inner: JournalStore, kill_at: int, before: bool = False) -> None:
        super().__init__(inner)
        self.kill_at, self.before, self.appends = kill_at, before, 0

    def append(self, key: str, records: Sequence[Record]) -> None:
        self.appends += 1
        if self.before and self.appends == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.inner.append(key, records)
        if self.appends == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def agent(idempotent: bool) -> Agent:
    @function_tool(idempotent=idempotent)
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        await asyncio.sleep(0.05)  # long enough to be killed while it runs
        return json.dumps({"city": city, "temp": 18})

    return Agent(instructions="You help.", tools=[get_weather])


async def turn(
    sim_url: str, journal_url: str, key: str, kill_at: int, idempotent: bool, *, before: bool
) -> None:
    store = KillAfter(open_journal(journal_url), kill_at, before)
    bot = agent(idempotent)
    async with RealtimeSession.connect(
        sim_url, api_key="sk-test", session=bot.session_config(), journal=store, key=key
    ) as session:
        runner = bot.start(session)
        await runner.say(QUESTION)
        await runner.wait_idle(IDLE_TIMEOUT_S)
        await runner.aclose()
    print(store.appends, flush=True)


async def resume(sim_url: str, journal_url: str, key: str, idempotent: bool) -> None:
    bot = agent(idempotent)
    async with RealtimeSession.resume(
        sim_url, journal=journal_url, key=key, api_key="sk-test"
    ) as session:
        runner = bot.start(session)
        resumed: Resumed | None = None
        async for event in runner.events():
            if isinstance(event, Resumed):
                resumed = event
                break
        await runner.wait_idle(IDLE_TIMEOUT_S)
        await runner.aclose()
    assert resumed is not None
    print(
        json.dumps(
            {
                f: list(getattr(resumed, f)) if f != "restored" else resumed.restored
                for f in ("restored", "lost", "rerun", "interrupted")
            }
        ),
        flush=True,
    )


def main(argv: list[str]) -> None:
    mode, sim_url, journal_url, key, *rest = argv
    if mode == "turn":
        before = rest[2:] == ["before"]
        asyncio.run(turn(sim_url, journal_url, key, int(rest[0]), rest[1] == "1", before=before))
    else:
        asyncio.run(resume(sim_url, journal_url, key, rest[0] == "1"))


if __name__ == "__main__":
    main(sys.argv[1:])
