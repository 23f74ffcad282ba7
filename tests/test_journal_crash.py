"""Kill a real process with SIGKILL at each journal write of a tool turn, resume the
session in another process, and judge the simulator's store (issue 19, "Done when").

The turn (a user question, the reply asked for, the model's call, the tool, its
output, the follow-up reply) makes :data:`WRITES` journal writes. For each, one worker
process runs the turn against the simulator served by this test and SIGKILLs itself
right after that write returned, or as it begins (the frames of the step before are
out: a crash after a send) (tests/journal_worker.py); a second process resumes the
journal's key. The resumed session's store (``SimServer.conversations()``) must hold
every item the journal held (nothing lost), each call with exactly one output, and
one reply after the outputs (or after the question, when a reply was owed). Both
stores: SQLite and a real Redis.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from accord.journal import open_journal
from accord.journal.state import INTERRUPTED_OUTPUT, replay
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from journal_support import journal_url, redis_url

__all__ = ["journal_url", "redis_url"]  # fixtures

WORKER = str(Path(__file__).with_name("journal_worker.py"))
WRITES = 13  # journal writes of one tool turn (test_a_whole_turn_makes_every_write)
CALL_STARTED = 8  # the write that says the tool is running
PROCESS_TIMEOUT_S = 60.0


async def worker(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        WORKER,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
    assert proc.returncode is not None
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"worker {args[0]} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return proc.returncode, out.decode()


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return [i["role"] if i["type"] == "message" else i["type"] for i in items]


async def test_a_whole_turn_makes_every_write(journal_url: str) -> None:
    async with SimServer(SimConfig()) as sim:
        code, out = await worker("turn", sim.url, journal_url, uuid.uuid4().hex, "0", "0")
    assert code == 0
    assert int(out) == WRITES


@pytest.mark.parametrize(
    ("kill_at", "idempotent"),
    [*((n, False) for n in range(1, WRITES + 1)), (CALL_STARTED, True)],
)
async def test_killed_after_any_write_the_resumed_session_loses_nothing(
    journal_url: str, kill_at: int, idempotent: bool
) -> None:
    await crash_and_resume(journal_url, kill_at, idempotent, before=False)


@pytest.mark.parametrize(
    ("kill_at", "idempotent"),
    [*((n, False) for n in range(3, WRITES + 1)), (CALL_STARTED + 1, True)],
)
async def test_killed_as_any_write_begins_the_resumed_session_loses_nothing(
    tmp_path: Path, kill_at: int, idempotent: bool
) -> None:
    """The step before was sent and not yet followed by a write: a crash after a send.
    (SQLite only: the writer is the same for both stores.)"""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    await crash_and_resume(url, kill_at, idempotent, before=True)


async def crash_and_resume(
    journal_url: str, kill_at: int, idempotent: bool, *, before: bool
) -> None:
    key = uuid.uuid4().hex
    flag = "1" if idempotent else "0"
    async with SimServer(SimConfig()) as sim:
        extra = ["before"] if before else []
        code, _ = await worker("turn", sim.url, journal_url, key, str(kill_at), flag, *extra)
        assert code == -signal.SIGKILL
        store = open_journal(journal_url)
        state = replay(store.load(key))
        journaled = [e.item.id for e in state.ordered() if not e.partial]
        store.close()
        code, out = await worker("resume", sim.url, journal_url, key, flag)
        assert code == 0
        resumed = json.loads(out)
        *_, after = sim.conversations().values()
    ids = [item["id"] for item in after]
    assert [i for i in ids if i in journaled] == journaled, "a journaled item was lost"
    assert resumed["lost"] == []
    calls = [i["call_id"] for i in after if i["type"] == "function_call"]
    outputs = [i for i in after if i["type"] == "function_call_output"]
    assert sorted(o["call_id"] for o in outputs) == sorted(calls), "not one output per call"
    if calls:
        tail = kinds(after)[kinds(after).index("function_call_output") :]
        assert tail == ["function_call_output", "assistant"], kinds(after)
    if state.reply_owed or calls:
        assert kinds(after)[-1] == "assistant", "the model did not reply"
    interrupted = [o for o in outputs if o["output"] == INTERRUPTED_OUTPUT]
    assert len(interrupted) == len(resumed["interrupted"])
    if idempotent:
        assert interrupted == []
