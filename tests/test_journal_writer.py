"""The writer's difference, against any sequence of projected states (hypothesis).

Whatever the engine's projected conversation does between two checkpoints (items
added anywhere, removed, moved, rewritten, acknowledged, finished), the records the
writer appends, read back by :func:`accord.journal.state.replay`, must give exactly
that conversation, in order, with each item's flags: the journal is what a resume
restores, so a record missing here is an item lost after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.engine.restore import AtDrop
from accord.items import Item, Message
from accord.journal.records import Record
from accord.journal.state import replay
from accord.journal.writer import JournalWriter


class ListStore:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def append(self, key: str, records: list[Record]) -> None:
        self.records.extend(records)

    def load(self, key: str) -> list[Record]:
        return list(self.records)

    def delete(self, key: str) -> None: ...
    def keys(self) -> list[str]:
        return ["k"]

    def close(self) -> None: ...


@dataclass
class FakeLedger:
    items: list[Item] = field(default_factory=list)
    version: int = 0
    seq: int = 0

    def projected(self, mirror: Any) -> list[Item]:
        return list(self.items)

    def find_open(self, kind: str, item_id: str) -> None:
        return None

    def open_ops(self) -> list[Any]:
        return []


@dataclass
class FakeInfo:
    items: list[str]
    done: bool = False


@dataclass
class FakeResponses:
    partial_ids: set[str] = field(default_factory=set)

    @property
    def by_id(self) -> dict[str, FakeInfo]:
        """A response still running owns the partial items; a finished one owns none."""
        return {"running": FakeInfo(sorted(self.partial_ids)), "done": FakeInfo([], True)}

    def partial(self, item_id: str) -> bool:
        return item_id in self.partial_ids

    def inband_busy(self) -> bool:
        return False


@dataclass
class FakeReconnect:
    engine: FakeEngine
    owed_reply: bool = False

    def facts(self, item: Item) -> AtDrop:
        heard = self.engine.heard.get(item.id)
        return AtDrop(item, self.engine.responses.partial(item.id), heard, None, None)


class FakeEngine:
    """What the writer reads of a SyncEngine, set directly."""

    def __init__(self) -> None:
        self.ledger = FakeLedger()
        self.mirror: set[str] = set()
        self.responses = FakeResponses()
        self.audio_seen: dict[str, tuple[str, int | None]] = {}
        self.heard: dict[str, int] = {}
        self.reconnect = FakeReconnect(self)


ids = st.sampled_from([f"i{n}" for n in range(8)])
step = st.tuples(
    st.lists(ids, unique=True, max_size=8),  # the projected order
    st.dictionaries(ids, st.text(max_size=3), max_size=8),  # rewritten contents
    st.sets(ids),  # acknowledged (in the mirror)
    st.sets(ids),  # partial
    st.dictionaries(ids, st.integers(0, 900), max_size=3),  # heard (truncated audio)
    st.sets(ids),  # given as new, equal objects (an acknowledgement's echo)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=12))
def test_replayed_records_are_the_projected_state_after_every_checkpoint(
    steps: list[tuple[list[str], dict[str, str], set[str], set[str], dict[str, int], set[str]]],
) -> None:
    engine = FakeEngine()
    store = ListStore()
    writer = JournalWriter(store, "k")  # type: ignore[arg-type]
    objects: dict[tuple[str, str], Item] = {}
    for order, texts, acked, partial, heard, fresh in steps:
        items = []
        for item_id in order:
            text = texts.get(item_id, "")
            # the same content is the same object, as the mirror keeps it between events
            if item_id in fresh:
                objects[item_id, text] = Message(item_id, "user", text)
            items.append(objects.setdefault((item_id, text), Message(item_id, "user", text)))
        engine.ledger.items = items
        engine.ledger.version += 1
        engine.mirror = acked
        engine.responses.partial_ids = partial
        engine.heard = heard
        engine.audio_seen = {i: ("", None) for i in heard}
        writer.checkpoint(engine, {})  # type: ignore[arg-type]
        state = replay(store.load("k"))
        got = [(e.item, e.pending, e.partial, e.heard_ms) for e in state.ordered()]
        want = [
            (item, item.id not in acked, item.id in partial, heard.get(item.id)) for item in items
        ]
        assert got == want
