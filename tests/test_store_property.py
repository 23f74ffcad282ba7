"""ConversationStore under random operation sequences: the store's own invariants hold
after every step (the property test of :mod:`test_store`).

The notes are named as in :mod:`test_store`: "PROTOCOL-NOTES" is docs/protocol-notes.md,
"RACES" docs/races.md, "DESIGN" docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.errors import ServerError
from accord.sim.store import (
    ROOT,
    Added,
    ConversationStore,
    Creator,
    Deleted,
    Retrieved,
    StoreConfig,
    Transcribed,
    Truncated,
)
from store_support import call, msg, output, spoken

# -- property: random operation sequences keep the store's own invariants ------------------

CLIENT_IDS = ["a", "b", "c", "d"]
CALL_IDS = ["call_1", "call_2"]
UNKNOWN = "nope"
BAD_IDS = ["x" * 33, "a.b"]
T = TypeVar("T")


class Run:
    """Draws operations, applies them, and checks the invariants after each one."""

    def __init__(self, data: st.DataObject, config: StoreConfig) -> None:
        self.data = data
        self.store = ConversationStore(config)
        self.server_ids: list[str] = []  # every id the server chose
        self.user_audio_ids: list[str] = []
        self.response = 1
        self.outputs = 0
        self.added: list[Added] = []
        self.step = 0
        # seq of a deleted incarnation -> the incarnation (seq) before it when deleted,
        # observed through ids() alone: the test's own account of race R6's chain.
        self.pred_at_delete: dict[int, int | None] = {}

    def draw(self, strategy: st.SearchStrategy[T]) -> T:
        return self.data.draw(strategy)

    def coin(self) -> bool:
        return self.data.draw(st.booleans())

    def any_id(self) -> str:
        """A live id half the time, else any id: a client's, the server's, or unknown."""
        live = self.store.ids()
        pool = live if live and self.coin() else CLIENT_IDS + self.server_ids
        return self.draw(st.sampled_from([*pool, UNKNOWN]))

    def event_id(self) -> str | None:
        return None if self.coin() else f"evt_{self.step}"

    def run(self, steps: int) -> None:
        ops = [
            self.create, self.create, self.create, self.delete, self.delete, self.retrieve,
            self.truncate, self.output_item, self.output_item, self.user_audio,
            self.transcript, self.update, self.finish,
        ]  # fmt: skip
        for self.step in range(steps):
            op = self.data.draw(st.sampled_from(ops))
            before = self.store.items()
            history_before = len(list(self.store.history()))
            outcome = op()
            self.check(outcome, before, history_before)
        self.check_history()

    # -- operations -----------------------------------------------------------------------

    def create(self) -> object:
        kind = self.draw(st.sampled_from(["msg", "call", "output", "bad"]))
        # Clients may re-use any id, often a deleted server id (races R9, R17 by a rewrite).
        gone = [i for i in self.server_ids if self.store.get(i) is None]
        pool = gone if gone and self.coin() else CLIENT_IDS + self.server_ids
        item_id = self.draw(st.sampled_from(pool))
        call_id = self.draw(st.sampled_from(CALL_IDS))
        item: Item
        if kind == "msg":
            item = msg(item_id)
        elif kind == "call":
            item = call(item_id, call_id)
        elif kind == "output":
            item = output(item_id, call_id)
        else:
            item = msg(self.draw(st.sampled_from(BAD_IDS)))
        live = self.store.ids()
        anchors = live if live and self.coin() else CLIENT_IDS + self.server_ids
        anchor = self.draw(st.sampled_from([None, ROOT, UNKNOWN, *anchors]))
        missing = self.draw(st.sampled_from([False, False, False, True]))
        live_before = set(self.store.ids())
        event_id = self.event_id()
        outcome = self.store.create(item, anchor, event_id=event_id, item_id_missing=missing)
        attempt = self.store.creates[-1]
        assert attempt.anchor_existed == (anchor in (None, ROOT) or anchor in live_before)
        if isinstance(outcome, ServerError):
            assert outcome.event_id == event_id
            assert attempt.error == outcome
        else:
            assert attempt.anchor_existed, "a create with a dangling anchor succeeded"
            assert outcome.item.id not in live_before
            assert attempt.item_id == outcome.item.id
            if missing:
                self.server_ids.append(outcome.item.id)
            if isinstance(item, FunctionCallOutput):
                assert any(
                    isinstance(i, FunctionCall) and i.call_id == item.call_id
                    for i in self.store.items()
                )
            ids = self.store.ids()
            if anchor is None:
                assert ids[-1] == outcome.item.id
            elif anchor == ROOT:
                assert ids[0] == outcome.item.id
            else:
                assert outcome.previous_item_id == anchor
        return outcome

    def delete(self) -> object:
        item_id = self.any_id()
        ids = self.store.ids()
        was_live = item_id in ids
        in_flight = self.store.is_in_flight(item_id)
        event_id = self.event_id()
        outcome = self.store.delete(item_id, event_id=event_id)
        assert isinstance(outcome, Deleted) == was_live
        if isinstance(outcome, Deleted):
            record = self.store.record(item_id)
            assert record is not None and not record.alive
            assert record.deleted_by == event_id
            assert record.deleted_at == self.store.transitions
            assert record.deleted_in_flight == in_flight
            at = ids.index(item_id)
            pred = self.store.record(ids[at - 1]) if at > 0 else None
            self.pred_at_delete[record.seq] = None if pred is None else pred.seq
        return outcome

    def retrieve(self) -> object:
        item_id = self.any_id()
        transitions = self.store.transitions
        outcome = self.store.retrieve(item_id)
        assert self.store.transitions == transitions
        if isinstance(outcome, Retrieved):
            assert outcome.item == self.store.get(item_id)
        # Whatever it answered, retrieve changes nothing: treat it as refused.
        return None

    def truncate(self) -> object:
        end = self.draw(st.sampled_from([0, 300, 1000, 1500]))
        return self.store.truncate(self.any_id(), 0, end, event_id=self.event_id())

    def output_item(self) -> object:
        self.outputs += 1
        item_id = f"out_{self.outputs}"
        item: Item = (
            spoken(item_id, 1000)
            if self.coin()
            else call(item_id, self.draw(st.sampled_from(CALL_IDS)))
        )
        seen = [r.item.id for r in self.store.history()]
        after = self.draw(st.sampled_from([None, *seen]))
        last = self.store.last_id()
        out = self.store.add_output_item(item, f"resp_{self.response}", after=after)
        self.server_ids.append(item_id)
        if after is None:
            assert out.previous_item_id == last
        else:
            # Race R6: after the anchor's latest incarnation, or, if that was deleted, after
            # the first surviving incarnation up the chain of predecessors (first if none).
            history = list(self.store.history())
            seq: int | None = max(r.seq for r in history if r.item.id == after)
            while seq is not None and not history[seq].alive:
                seq = self.pred_at_delete[seq]
            assert out.previous_item_id == (None if seq is None else history[seq].item.id)
        assert self.store.is_in_flight(item_id)
        return out

    def user_audio(self) -> object:
        out = self.store.add_user_audio()
        self.server_ids.append(out.item.id)
        self.user_audio_ids.append(out.item.id)
        assert self.store.is_in_flight(out.item.id)
        return out

    def transcript(self) -> object:
        if not self.user_audio_ids:
            return None
        item_id = self.draw(st.sampled_from(self.user_audio_ids))
        text = self.draw(st.sampled_from([None, "words"]))
        outcome = self.store.complete_transcript(item_id, text)
        assert not self.store.is_in_flight(item_id)
        if isinstance(outcome, Transcribed):  # only ever on the live committed-audio item
            record = self.store.record(item_id)
            assert record is not None and record.alive
            assert record.creator is Creator.USER_AUDIO
        return outcome

    def update(self) -> object:
        if not self.outputs:
            return None
        outs = [f"out_{n}" for n in range(1, self.outputs + 1)]
        # Often one a client re-created after deleting it (race R9's naive rewrite).
        retaken = [i for i in outs if (r := self.store.record(i)) and r.creator is Creator.CLIENT]
        pool = retaken if retaken and self.coin() else outs
        item_id = self.draw(st.sampled_from(pool))
        record = next(r for r in self.store.history() if r.item.id == item_id)
        grown: Item = (
            replace(record.item, arguments='{"more": 1}')
            if isinstance(record.item, FunctionCall)
            else spoken(item_id, 1500, "longer")
        )
        live = self.store.record(item_id)
        owner = live is not None and live.alive and live.creator is Creator.RESPONSE
        final = live is not None and live.transcript_before_truncate is not None
        updated = self.store.update_output_item(grown)
        # Only the response's own, live, untruncated incarnation grows.
        assert updated == (owner and not final)
        return updated

    def finish(self) -> object:
        self.store.finish_response(f"resp_{self.response}")
        self.response += 1
        return None

    # -- invariants -----------------------------------------------------------------------

    def check(self, outcome: object, before: list[Item], history_before: int) -> None:
        store = self.store
        ids = store.ids()
        after = store.items()
        history = list(store.history())
        # Ids are unique among live items, and the live records are exactly the alive ones.
        assert len(ids) == len(set(ids))
        live = [store.record(i) for i in ids]
        assert all(r is not None and r.alive for r in live)
        assert len(live) == sum(r.alive for r in history)
        if isinstance(outcome, Added):
            # The Added outcome is consistent with the order at the moment it is returned.
            at = ids.index(outcome.item.id)
            assert outcome.previous_item_id == (ids[at - 1] if at > 0 else None)
            assert outcome.previous_item_id != ROOT
            assert [i for i in after if i.id != outcome.item.id] == before
            assert len(history) == history_before + 1
            assert history[-1].item == outcome.item
            self.added.append(outcome)
        elif isinstance(outcome, Deleted):
            assert [i for i in before if i.id != outcome.item_id] == after
            assert len(history) == history_before
        elif isinstance(outcome, Truncated | Transcribed) or outcome is True:
            assert [i.id for i in before] == ids
            assert len(history) == history_before
        else:
            # Refused (ServerError), dropped (False / None): nothing changed.
            assert after == before
            assert len(history) == history_before

    def check_history(self) -> None:
        history = list(self.store.history())
        assert [r.item.id for r in history] == [a.item.id for a in self.added]
        assert [r.seq for r in history] == list(range(len(history)))
        for record in history:
            assert record.alive == (record.deleted_at is None)
            if record.creator is Creator.CLIENT:
                assert record.response_id is None


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 40), st.booleans())
def test_random_operations_keep_the_store_invariants(
    data: st.DataObject, steps: int, reuse: bool
) -> None:
    """DESIGN "Invariants" (what the checker relies on) and STYLE 6 (property-test the
    table): ids unique among live items, every Added consistent with the order it was
    returned in, a refused operation changes nothing, history holds every item added."""
    Run(data, StoreConfig(reuse_deleted_ids=reuse)).run(steps)


def test_a_truncated_item_ignores_later_stream_updates() -> None:
    """PROTOCOL-NOTES "Interruptions": truncate follows cancel; the cancelled response's
    last update of the item must not undo the truncation."""
    store = ConversationStore()
    spoken = Message(id="a1", role="assistant", content="a long answer", audio=True, audio_ms=3000)
    store.add_output_item(spoken, "r1")
    assert not isinstance(store.truncate("a1", 0, 1000), ServerError)
    assert store.update_output_item(spoken) is False
    item = store.get("a1")
    assert isinstance(item, Message) and item.audio_ms == 1000 and item.content == ""
