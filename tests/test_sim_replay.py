"""The real recordings' client frames replayed against ``accord sim serve``.

The simulator runs as a real subprocess on an ephemeral loopback port (it prints its URL
first), each recording's client frames go through the official SDK client, paced and
with server-issued ids rewritten (see ``replay_support``), and every rule of RULES.md is
checked on what comes back: zero violations. The simulator's model must also do what the
recording shows: the same output items, response by response.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replay_support import Replay, outline
from sim_process import sim_serve
from trace_rules import Trace, check
from trace_rules.shapes import recordings

RECORDINGS = {rec.name: rec for rec in recordings()}


@pytest.fixture(scope="module")
def sim_port() -> Iterator[int]:
    with sim_serve() as port:
        yield port


@pytest.mark.parametrize("name", sorted(RECORDINGS))
async def test_replayed_recording_breaks_no_rule(sim_port: int, name: str) -> None:
    rec = RECORDINGS[name]
    replay = Replay(rec)
    try:
        await replay.run(sim_port)
    except TimeoutError:
        pytest.fail(f"the replay stalled waiting for {replay.stalled}")
    found = check(Trace(replay.received, replay.sent, name=name, report_unrecorded=True))
    assert not found, "\n".join(map(str, found))
    assert outline(replay.received) == outline(rec.server)
    sent = [f["type"] for f in replay.sent]
    assert sent == [f["type"] for f in rec.client]  # every frame, audio appends included
