"""ConversationStore: what the server changes on its own (response output, user audio,
transcripts, streaming updates) and the provenance a checker reads.

The notes are named as in :mod:`test_store`: "PROTOCOL-NOTES" is docs/protocol-notes.md,
"RACES" docs/races.md, "DESIGN" docs/architecture.md.
"""

from __future__ import annotations

import pytest

from accord.ids import is_wire_safe
from accord.items import Message
from accord.sim.store import (
    ROOT,
    ConversationStore,
    Creator,
    Transcribed,
    Truncated,
)
from store_support import call, msg, refused, spoken, store_with

# -- server-side changes ------------------------------------------------------------------


def test_output_item_appends_and_is_in_flight_until_its_response_is_done() -> None:
    """PROTOCOL-NOTES "Details clients rely on": a response's output item points at the
    item that was last when it was added; DESIGN "In flight": until response.done."""
    store = store_with(msg("u0"), msg("u1"))
    store.create(msg("r"), ROOT)
    out = store.add_output_item(spoken("a1"), "resp_1")
    assert out.previous_item_id == "u1"
    assert store.ids() == ["r", "u0", "u1", "a1"]
    assert store.is_in_flight("a1")
    store.add_output_item(call("fc", "call_1"), "resp_1")
    store.finish_response("resp_2")
    assert store.is_in_flight("a1") and store.is_in_flight("fc")
    store.finish_response("resp_1")
    assert not store.is_in_flight("a1") and not store.is_in_flight("fc")
    assert not store.is_in_flight("u0")


def test_output_item_after_a_live_item_goes_right_after_it() -> None:
    """RACES R16: the server may anchor a response's item on an item other than the last
    (fc2 after out1); ``after`` reproduces it."""
    store = store_with(msg("u"), msg("v"))
    out = store.add_output_item(spoken("a"), "resp_1", after="u")
    assert out.previous_item_id == "u"
    assert store.ids() == ["u", "a", "v"]


def test_output_item_after_a_deleted_item_lands_after_its_surviving_predecessor() -> None:
    """RACES R6 / PROTOCOL-NOTES "Conversation items" (seen in production): an item the
    server anchors on an item deleted a moment earlier goes after that item's surviving
    predecessor, never dropped."""
    store = store_with(msg("u"), msg("a3"), msg("v"))
    store.delete("a3")
    out = store.add_output_item(spoken("a4"), "resp_1", after="a3")
    assert store.ids() == ["u", "a4", "v"]
    assert out.previous_item_id == "u"


def test_r6_lands_right_after_the_predecessor_even_if_items_came_in_between() -> None:
    """RACES R6 and DESIGN (engine/mirror.py): "after the deleted item's surviving
    predecessor", i.e. right after it, before items created there since the delete."""
    store = store_with(msg("u"), msg("a3"))
    store.delete("a3")
    store.create(msg("x"), "u")
    store.add_output_item(spoken("a4"), "resp_1", after="a3")
    assert store.ids() == ["u", "a4", "x"]


def test_r6_follows_a_chain_of_deleted_predecessors() -> None:
    """RACES R6: the predecessor may itself have been deleted since; follow each deleted
    item to the item that stood before it when it was deleted."""
    store = store_with(msg("a"), msg("b"), msg("c"), msg("d"))
    store.delete("c")  # c stood after b
    store.delete("b")  # b stood after a
    out = store.add_output_item(spoken("n"), "resp_1", after="c")
    assert store.ids() == ["a", "n", "d"]
    assert out.previous_item_id == "a"


def test_r6_with_every_predecessor_deleted_lands_first() -> None:
    """RACES R6: with no surviving predecessor the item goes first (previous_item_id null,
    PROTOCOL-NOTES "Details clients rely on")."""
    store = store_with(msg("a"), msg("b"), msg("c"), msg("d"))
    store.delete("c")
    store.delete("b")
    store.delete("a")
    out = store.add_output_item(spoken("n"), "resp_1", after="c")
    assert store.ids() == ["n", "d"]
    assert out.previous_item_id is None


def test_r6_uses_the_predecessor_at_the_time_of_the_delete() -> None:
    """RACES R6: deleting in the other order gives the same chain (b's predecessor is a
    when c goes, since b is gone already)."""
    store = store_with(msg("a"), msg("b"), msg("c"), msg("d"))
    store.delete("b")
    store.delete("c")
    store.add_output_item(spoken("n"), "resp_1", after="c")
    assert store.ids() == ["a", "n", "d"]


def test_output_item_anchored_on_an_id_never_seen_is_a_caller_error() -> None:
    """RACES R6 covers deleted anchors only: a server anchoring on an id it never held is
    a bug in the simulator driving the store, raised, not silently placed first."""
    store = store_with(msg("a"))
    with pytest.raises(ValueError, match="ghost"):
        store.add_output_item(spoken("n"), "resp_1", after="ghost")
    assert store.ids() == ["a"]


def test_server_side_adds_refuse_an_id_already_live() -> None:
    """PROTOCOL-NOTES "Conversation items": ids are unique; the server never names two
    live items alike, so a simulator doing it is a caller error."""
    store = store_with(msg("a"))
    with pytest.raises(ValueError, match="'a'"):
        store.add_output_item(spoken("a"), "resp_1")
    with pytest.raises(ValueError, match="'a'"):
        store.add_user_audio("a")
    assert store.items() == [msg("a")]
    assert len(list(store.history())) == 1


def test_user_audio_is_in_flight_until_its_transcript() -> None:
    """PROTOCOL-NOTES "Seen from the real server" (user audio): conversation.item.added
    with input_audio and transcript null; the transcript comes later
    (input_audio_transcription.completed); DESIGN "In flight": until it arrives."""
    store = store_with(msg("a"))
    out = store.add_user_audio("u1")
    assert out.previous_item_id == "a"
    assert out.item == Message(id="u1", role="user", content=None, audio=True)
    assert store.is_in_flight("u1")
    assert store.complete_transcript("u1", "hello there") == Transcribed("u1", "hello there")
    assert store.get("u1") == Message(id="u1", role="user", content="hello there", audio=True)
    assert not store.is_in_flight("u1")


def test_user_audio_without_an_id_gets_a_wire_safe_id() -> None:
    """PROTOCOL-NOTES "Seen from the real server": the server names committed audio items
    (speech_started already names the future item_id)."""
    store = ConversationStore()
    first, second = store.add_user_audio().item.id, store.add_user_audio().item.id
    assert first != second and is_wire_safe(first) and is_wire_safe(second)


def test_failed_transcript_ends_the_in_flight_state_without_text() -> None:
    """DESIGN "In flight": a user audio item is in flight until its transcript arrives or
    fails; a failure gives it no text."""
    store = ConversationStore()
    store.add_user_audio("u1")
    assert store.complete_transcript("u1", None) is None
    assert not store.is_in_flight("u1")
    assert store.get("u1") == Message(id="u1", role="user", content=None, audio=True)


def test_transcript_for_a_deleted_item_is_dropped() -> None:
    """RACES R17: a transcription .completed after the item was deleted is ignored and never
    resurrects it."""
    store = store_with(msg("a"))
    store.add_user_audio("u1")
    store.delete("u1", event_id="evt_d")
    assert store.complete_transcript("u1", "too late") is None
    assert store.ids() == ["a"]
    assert store.get("u1") is None
    record = store.record("u1")
    assert record is not None and not record.alive and not record.transcript_pending
    assert isinstance(record.item, Message) and record.item.content is None


def test_transcript_never_lands_on_a_client_item_reusing_the_id() -> None:
    """RACES R17: the transcript can arrive after the item was deleted *or rewritten*; a
    client item re-created under the deleted audio item's id is another item, untouched."""
    store = ConversationStore()
    store.add_user_audio("u1")
    store.delete("u1")
    store.create(msg("u1", "typed instead"))
    assert store.complete_transcript("u1", "spoken words") is None
    assert store.get("u1") == msg("u1", "typed instead")


def test_streaming_update_of_a_deleted_output_item_does_not_resurrect_it() -> None:
    """RACES R3 / R6: the response keeps streaming an item the client deleted; the store
    drops the update (False) and the item stays deleted."""
    store = store_with(msg("u"))
    store.add_output_item(spoken("a", 100), "resp_1")
    assert store.update_output_item(spoken("a", 300)) is True
    assert store.get("a") == spoken("a", 300)
    store.delete("a")
    assert store.update_output_item(spoken("a", 600)) is False
    assert store.ids() == ["u"]
    assert store.get("a") is None


def test_streaming_update_never_lands_on_a_client_item_reusing_the_id() -> None:
    """RACES R9 (naive rewrite: delete + create under the same id while the response still
    streams): the re-created client item is another item; the response does not write it."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 100), "resp_1")
    store.delete("a")
    store.create(msg("a", "edited", role="assistant"))
    assert store.update_output_item(spoken("a", 600)) is False
    assert store.get("a") == msg("a", "edited", role="assistant")


def test_streamed_audio_length_bounds_truncation() -> None:
    """PROTOCOL-NOTES "Interruptions": the bound of audio_end_ms is the audio the server
    holds now, which grows as the response streams."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 0, text=""), "resp_1")
    store.update_output_item(spoken("a", 800, text="partial"))
    err = refused(store.truncate("a", 0, 900))
    assert err.message == "Audio content of 800ms is already shorter than 900ms"
    assert store.truncate("a", 0, 800) == Truncated("a", 0, 800)


# -- provenance ---------------------------------------------------------------------------


def test_history_keeps_every_incarnation_with_its_provenance() -> None:
    """DESIGN "Invariants": the checker has the store with per-item provenance (who created
    it, which operation deleted it)."""
    store = ConversationStore()
    store.create(msg("a"), event_id="evt_1")
    store.add_output_item(spoken("b"), "resp_1")
    store.add_user_audio("c")
    store.delete("a", event_id="evt_2")
    deleted_at = store.transitions
    store.create(msg("a", "again"), event_id="evt_3")
    store.delete("ghost", event_id="evt_4")

    history = list(store.history())
    assert [(r.item.id, r.creator, r.created_by, r.alive) for r in history] == [
        ("a", Creator.CLIENT, "evt_1", False),
        ("b", Creator.RESPONSE, "resp_1", True),
        ("c", Creator.USER_AUDIO, None, True),
        ("a", Creator.CLIENT, "evt_3", True),
    ]
    assert [r.seq for r in history] == [0, 1, 2, 3]
    old = history[0]
    assert (old.deleted_by, old.deleted_at) == ("evt_2", deleted_at)
    assert old.item == msg("a")
    assert all(r.deleted_by is None and r.deleted_at is None for r in history[1:])
    assert store.record("a") is history[3]
    assert history[1].response_id == "resp_1"


def test_record_of_a_deleted_id_is_its_latest_incarnation() -> None:
    """DESIGN "Invariants" (provenance): record() answers for deleted ids too."""
    store = store_with(msg("a"))
    store.delete("a", event_id="evt_1")
    store.create(msg("a", "two"))
    store.delete("a", event_id="evt_2")
    record = store.record("a")
    assert record is not None and record.item == msg("a", "two")
    assert record.deleted_by == "evt_2"
    assert store.record("ghost") is None


def test_deleted_in_flight_for_a_running_response_item() -> None:
    """DESIGN "In flight" and invariant 1 (no delete of an item in flight): the store
    records whether the item was in flight when deleted."""
    store = ConversationStore()
    store.add_output_item(spoken("a1"), "resp_1")
    store.add_output_item(spoken("a2"), "resp_1")
    store.delete("a1", event_id="evt_1")
    store.finish_response("resp_1")
    store.delete("a2", event_id="evt_2")
    records = {r.item.id: r for r in store.history()}
    assert records["a1"].deleted_in_flight is True
    assert records["a2"].deleted_in_flight is False


def test_deleted_in_flight_for_user_audio_awaiting_its_transcript() -> None:
    """DESIGN "In flight": a user audio item is in flight until its transcript arrives or
    fails."""
    store = ConversationStore()
    store.add_user_audio("u1")
    store.add_user_audio("u2")
    store.add_user_audio("u3")
    store.complete_transcript("u2", "words")
    store.complete_transcript("u3", None)
    for item_id in ("u1", "u2", "u3"):
        store.delete(item_id)
    records = {r.item.id: r for r in store.history()}
    assert records["u1"].deleted_in_flight is True
    assert records["u2"].deleted_in_flight is False
    assert records["u3"].deleted_in_flight is False


def test_client_items_are_never_in_flight() -> None:
    """DESIGN "In flight": only response output and pending user audio are in flight."""
    store = store_with(msg("a"))
    assert not store.is_in_flight("a")
    store.delete("a")
    assert store.record("a") is not None
    assert store.record("a").deleted_in_flight is False  # type: ignore[union-attr]
    assert not store.is_in_flight("a")


def test_creates_log_records_every_attempt_and_its_anchor() -> None:
    """DESIGN invariant 2 (no dangling anchor): the checker reads each create's anchor and
    whether it existed at that moment, rejected creates included."""
    store = store_with(msg("a"))
    store.create(msg("b"), "a", event_id="evt_1")
    store.create(msg("c"), "ghost", event_id="evt_2")
    store.create(msg("a"), ROOT, event_id="evt_3")
    store.delete("b")
    store.create(msg("d"), "b", event_id="evt_4")
    rows = [
        (c.event_id, c.item_id, c.previous_item_id, c.anchor_existed, c.error is None)
        for c in store.creates
    ]
    assert rows == [
        (None, "a", None, True, True),
        ("evt_1", "b", "a", True, True),
        ("evt_2", "c", "ghost", False, False),
        ("evt_3", "a", ROOT, True, False),
        ("evt_4", "d", "b", False, False),
    ]
    assert [c.transition for c in store.creates] == [1, 2, 3, 4, 6]
    assert store.creates[2].error == store.create(msg("c"), "ghost", event_id="evt_2")
