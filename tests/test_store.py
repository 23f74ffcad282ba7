"""ConversationStore: the server's conversation semantics, rule by rule.

Each test names the note it checks: a section of docs/protocol-notes.md, "PROTOCOL-NOTES"
below ("Conversation items", "Seen from the real server", "Details clients rely on",
"Interruptions"), a race of docs/races.md, "RACES" (R6, R17, R20), or a part of
docs/architecture.md, "DESIGN". The property test at the end drives random operation
sequences and checks the store's own invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.ids import is_wire_safe
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.errors import INVALID_REQUEST, ServerError
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

# -- helpers ------------------------------------------------------------------------------


def msg(item_id: str, text: str = "hello", role: str = "user") -> Message:
    return Message(id=item_id, role=role, content=text)  # type: ignore[arg-type]


def spoken(item_id: str, ms: int | None = 1000, text: str = "said this") -> Message:
    """An assistant audio message with ``ms`` of audio and its transcript."""
    return Message(id=item_id, role="assistant", content=text, audio=True, audio_ms=ms)


def call(item_id: str, call_id: str = "call_1") -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name="lookup", arguments="{}")


def output(item_id: str, call_id: str = "call_1") -> FunctionCallOutput:
    return FunctionCallOutput(id=item_id, call_id=call_id, output="42")


def store_with(*items: Item, config: StoreConfig | None = None) -> ConversationStore:
    """A store holding ``items`` in order, each appended by a client create."""
    store = ConversationStore(config or StoreConfig())
    for item in items:
        assert isinstance(store.create(item), Added)
    return store


def added(outcome: object) -> Added:
    assert isinstance(outcome, Added), outcome
    return outcome


def refused(outcome: object) -> ServerError:
    assert isinstance(outcome, ServerError), outcome
    assert outcome.type == INVALID_REQUEST
    return outcome


# -- create: where the item goes ----------------------------------------------------------


def test_create_without_anchor_appends_at_the_end() -> None:
    """PROTOCOL-NOTES "Conversation items": previous_item_id unset = append at the end."""
    store = store_with(msg("a"), msg("b"))
    out = added(store.create(msg("c")))
    assert store.ids() == ["a", "b", "c"]
    assert out.previous_item_id == "b"
    assert out.item == msg("c")


def test_first_item_has_no_previous_item() -> None:
    """PROTOCOL-NOTES "Seen from the real server": previous_item_id is null for the first
    item of the conversation, whatever created it."""
    assert added(ConversationStore().create(msg("a"))).previous_item_id is None
    assert added(ConversationStore().create(msg("a"), ROOT)).previous_item_id is None
    assert added(ConversationStore().add_output_item(msg("a"), "resp_1")).previous_item_id is None
    assert added(ConversationStore().add_user_audio("a")).previous_item_id is None


def test_create_at_root_inserts_first_and_never_echoes_root() -> None:
    """PROTOCOL-NOTES "Conversation items": "root" inserts at the start; "Details clients
    rely on": previous_item_id is null after a "root" insert, never "root"."""
    store = store_with(msg("a"), msg("b"))
    out = added(store.create(msg("r"), ROOT, event_id="evt_1"))
    assert store.ids() == ["r", "a", "b"]
    assert out.previous_item_id is None


def test_create_after_an_existing_id_goes_right_after_it() -> None:
    """PROTOCOL-NOTES "Conversation items": previous_item_id names the item to follow."""
    store = store_with(msg("a"), msg("b"), msg("c"))
    out = added(store.create(msg("x"), "a"))
    assert store.ids() == ["a", "x", "b", "c"]
    assert out.previous_item_id == "a"
    assert added(store.create(msg("y"), "c")).previous_item_id == "c"
    assert store.ids() == ["a", "x", "b", "c", "y"]


def test_added_previous_is_the_item_before_it_in_the_conversation() -> None:
    """PROTOCOL-NOTES "Details clients rely on": conversation.item.added.previous_item_id
    is the item before the new one (null when first)."""
    store = ConversationStore()
    for anchor, new in [(None, "a"), (ROOT, "b"), ("b", "c"), (None, "d"), ("a", "e")]:
        out = added(store.create(msg(new), anchor))
        ids = store.ids()
        at = ids.index(new)
        assert out.previous_item_id == (ids[at - 1] if at > 0 else None)
    assert store.ids() == ["b", "c", "a", "e", "d"]


def test_create_after_an_unknown_id_is_refused_and_not_created() -> None:
    """PROTOCOL-NOTES "Conversation items": an unknown previous_item_id is an error and the
    item is NOT created (payload assumed: the plausible message of the notes); "Every
    error event echoes the client's event_id"."""
    store = store_with(msg("a"))
    err = refused(store.create(msg("x"), "ghost", event_id="evt_7"))
    assert err.message == "Error adding item: the previous item with id 'ghost' does not exist."
    assert err.event_id == "evt_7"
    assert store.ids() == ["a"]
    assert store.get("x") is None
    assert [rec.item.id for rec in store.history()] == ["a"]


def test_create_after_a_deleted_id_is_refused() -> None:
    """RACES R5 / DESIGN invariant 2: an anchor deleted a moment earlier no longer exists,
    so it is a dangling anchor (PROTOCOL-NOTES "Conversation items": unknown id)."""
    store = store_with(msg("a"), msg("b"))
    store.delete("b")
    err = refused(store.create(msg("x"), "b", event_id="evt_2"))
    assert "'b' does not exist" in err.message
    assert store.ids() == ["a"]
    assert store.creates[-1].anchor_existed is False


def test_error_event_id_is_null_when_the_client_sent_none() -> None:
    """PROTOCOL-NOTES "Seen from the real server": error.event_id is the client's event_id
    when it sent one, else null."""
    store = store_with(msg("a"))
    assert refused(store.create(msg("a"))).event_id is None
    assert refused(store.delete("ghost")).event_id is None
    assert refused(store.retrieve("ghost")).event_id is None
    assert refused(store.truncate("a", 0, 0)).event_id is None


# -- create: ids ----------------------------------------------------------------------------


def test_duplicate_id_is_refused_with_the_observed_error() -> None:
    """PROTOCOL-NOTES "Seen from the real server": code item_create_duplicate_item_id,
    "Error adding item: an item with id '<id>' already exists.", no item added."""
    store = store_with(msg("a"), msg("b"))
    err = refused(store.create(msg("a", "other text"), "b", event_id="evt_9"))
    assert err.code == "item_create_duplicate_item_id"
    assert err.message == "Error adding item: an item with id 'a' already exists."
    assert err.event_id == "evt_9"
    assert store.items() == [msg("a"), msg("b")]
    assert len(list(store.history())) == 2


def test_duplicate_of_a_server_created_id_is_refused() -> None:
    """PROTOCOL-NOTES "Conversation items": ids are unique in the conversation, whoever
    created the first item."""
    store = ConversationStore()
    store.add_output_item(spoken("srv"), "resp_1")
    err = refused(store.create(msg("srv")))
    assert err.code == "item_create_duplicate_item_id"
    assert store.ids() == ["srv"]


def test_deleted_id_can_be_reused_by_default() -> None:
    """PROTOCOL-NOTES "Seen from the real server" ("Unknown: whether a deleted id can be
    re-used"); StoreConfig.reuse_deleted_ids defaults to True (clients do it)."""
    store = store_with(msg("a"), msg("b"))
    store.delete("a")
    out = added(store.create(msg("a", "rewritten"), "b"))
    assert out.previous_item_id == "b"
    assert store.items() == [msg("b"), msg("a", "rewritten")]


def test_reuse_of_a_deleted_id_is_refused_when_configured() -> None:
    """PROTOCOL-NOTES: re-use of a deleted id is unverified, so the simulator makes it
    configurable; refused, it is the duplicate-id error."""
    store = store_with(msg("a"), config=StoreConfig(reuse_deleted_ids=False))
    store.add_output_item(spoken("srv"), "resp_1")
    store.delete("a")
    store.delete("srv")
    for item_id in ("a", "srv"):
        err = refused(store.create(msg(item_id), event_id="evt_r"))
        assert err.code == "item_create_duplicate_item_id"
        assert err.message == f"Error adding item: an item with id '{item_id}' already exists."
        assert err.event_id == "evt_r"
    assert store.ids() == []


@pytest.mark.parametrize("length", [33, 40, 64])
def test_item_id_over_32_characters_is_refused(length: int) -> None:
    """PROTOCOL-NOTES "Seen from the real server": "Invalid 'item.id': string too long.
    Expected a string with maximum length 32, but got a string with length <n> instead."."""
    store = store_with(msg("a"))
    err = refused(store.create(msg("x" * length), event_id="evt_l"))
    assert err.message == (
        "Invalid 'item.id': string too long. Expected a string with maximum length 32, "
        f"but got a string with length {length} instead."
    )
    assert err.param == "item.id"
    assert err.event_id == "evt_l"
    assert store.ids() == ["a"]


def test_item_id_of_exactly_32_characters_is_accepted() -> None:
    """PROTOCOL-NOTES "Conversation items": ids are at most 32 characters."""
    store = ConversationStore()
    added(store.create(msg("x" * 32)))
    added(store.create(call("fc", "c" * 32)))


@pytest.mark.parametrize("kind", [call, output])
def test_call_id_over_32_characters_is_refused(kind: Callable[[str, str], Item]) -> None:
    """PROTOCOL-NOTES "Seen from the real server": the same "string too long" message for
    item.call_id."""
    store = store_with(call("fc", "call_1"))
    err = refused(store.create(kind("it", "k" * 33), event_id="evt_c"))
    assert err.message == (
        "Invalid 'item.call_id': string too long. Expected a string with maximum length 32, "
        "but got a string with length 33 instead."
    )
    assert err.param == "item.call_id"
    assert store.ids() == ["fc"]


@pytest.mark.parametrize("bad", ["a.b", "msg 1", "id/1", "caf\u00e9", "x:y"])
def test_id_outside_the_pattern_is_invalid_value(bad: str) -> None:
    """PROTOCOL-NOTES "Seen from the real server": an id outside the pattern gives code
    invalid_value with param item.id."""
    store = store_with(msg("a"))
    err = refused(store.create(msg(bad), event_id="evt_p"))
    assert err.code == "invalid_value"
    assert err.param == "item.id"
    assert err.event_id == "evt_p"
    assert store.ids() == ["a"]


def test_create_without_an_id_gets_a_wire_safe_server_id() -> None:
    """PROTOCOL-NOTES "Conversation items" (ids, at most 32 characters of [A-Za-z0-9_-]) and
    RACES R22: a create with no client id is named by the server."""
    store = ConversationStore()
    first = added(store.create(msg("placeholder"), item_id_missing=True))
    second = added(store.create(msg("placeholder"), item_id_missing=True))
    assert first.item.id != second.item.id
    assert all(is_wire_safe(i) for i in store.ids())
    assert "placeholder" not in store.ids()
    assert [a.item_id for a in store.creates] == store.ids()


def test_server_assigned_ids_never_collide_with_client_ids() -> None:
    """PROTOCOL-NOTES "Conversation items": item ids are unique. The server names an item
    the client did not name; that name must not be one a client already took."""
    taken = ConversationStore(id_seed=7).add_user_audio().item.id  # what seed 7 assigns first
    store = ConversationStore(id_seed=7)
    added(store.create(msg(taken)))
    out = added(store.create(msg("placeholder"), item_id_missing=True))
    assert out.item.id != taken
    audio = added(store.add_user_audio())
    assert len(set(store.ids())) == 3 == len(store.ids())
    assert audio.item.id not in (taken, out.item.id)


# -- delete -------------------------------------------------------------------------------


def test_delete_of_a_live_item() -> None:
    """PROTOCOL-NOTES "Conversation items": conversation.item.deleted confirms a delete."""
    store = store_with(msg("a"), msg("b"), msg("c"))
    assert store.delete("b", event_id="evt_d") == Deleted("b")
    assert store.ids() == ["a", "c"]
    assert store.get("b") is None


def test_delete_of_an_unknown_id_is_refused() -> None:
    """PROTOCOL-NOTES "Conversation items": delete of an unknown id is an error (assumed:
    code item_delete_invalid_item_id, "Error deleting item: the item with id 'X' does not
    exist."), event_id echoed."""
    store = store_with(msg("a"))
    err = refused(store.delete("ghost", event_id="evt_3"))
    assert err.code == "item_delete_invalid_item_id"
    assert err.message == "Error deleting item: the item with id 'ghost' does not exist."
    assert err.event_id == "evt_3"
    assert store.ids() == ["a"]
    store.delete("a")
    assert refused(store.delete("a", event_id="evt_4")).code == "item_delete_invalid_item_id"


def test_deleting_a_call_does_not_delete_its_output() -> None:
    """DESIGN "Pairs" (the pairs invariant is the client's to keep): the server does not
    cascade a call's delete to its output."""
    store = store_with(msg("u"), call("fc", "call_1"), output("out", "call_1"))
    assert store.delete("fc") == Deleted("fc")
    assert store.ids() == ["u", "out"]


# -- retrieve -----------------------------------------------------------------------------


def test_retrieve_returns_a_snapshot() -> None:
    """RACES R20: retrieve answers with the item as it is at that moment."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 1000), "resp_1")
    snap = store.retrieve("a", event_id="evt_r")
    assert snap == Retrieved(spoken("a", 1000))
    store.finish_response("resp_1")
    store.truncate("a", 0, 400)
    assert snap == Retrieved(spoken("a", 1000))
    assert store.retrieve("a") == Retrieved(Message("a", "assistant", "", True, 400))


def test_retrieve_of_an_unknown_or_deleted_id_is_refused() -> None:
    """PROTOCOL-NOTES "Conversation items": retrieve of an unknown id is an error (assumed
    code item_retrieve_invalid_item_id); RACES R20: also after a concurrent delete."""
    store = store_with(msg("a"))
    err = refused(store.retrieve("ghost", event_id="evt_5"))
    assert err.code == "item_retrieve_invalid_item_id"
    assert err.event_id == "evt_5"
    store.delete("a")
    assert refused(store.retrieve("a")).code == "item_retrieve_invalid_item_id"


def test_retrieve_changes_nothing() -> None:
    """RACES R20: retrieve is a read; it is no transition of the store (verify/log.py
    orders records by the store's transition counter)."""
    store = store_with(msg("a"), msg("b"))
    before = (store.items(), store.transitions, len(list(store.history())), len(store.creates))
    store.retrieve("a", event_id="evt_1")
    store.retrieve("ghost", event_id="evt_2")
    after = (store.items(), store.transitions, len(list(store.history())), len(store.creates))
    assert after == before


# -- truncate -----------------------------------------------------------------------------

NOT_AUDIO = "Only model output audio messages can be truncated"


@pytest.mark.parametrize(
    "item",
    [
        Message(id="x", role="user", content=None, audio=True, audio_ms=1000),
        Message(id="x", role="user", content="said", audio=True, audio_ms=1000),
        msg("x"),
        msg("x", role="assistant"),
        msg("x", role="system"),
        call("x"),
        output("x"),
    ],
    ids=["user_audio", "user_audio_transcribed", "user_text", "assistant_text", "system",
         "call", "output"],
)  # fmt: skip
def test_truncate_of_anything_but_assistant_audio_is_unsupported(item: Item) -> None:
    """PROTOCOL-NOTES "Interruptions": truncate applies to assistant audio only; "Seen from
    the real server": code unsupported_content_type, "Only model output audio messages can
    be truncated"."""
    store = store_with(call("fc", "call_1"), item)
    err = refused(store.truncate("x", 0, 0, event_id="evt_t"))
    assert err.code == "unsupported_content_type"
    assert err.message == NOT_AUDIO
    assert err.event_id == "evt_t"
    assert store.get("x") == item


@pytest.mark.parametrize("ms", [None, 0])
def test_truncate_before_any_audio_is_unsupported(ms: int | None) -> None:
    """PROTOCOL-NOTES "Seen from the real server": "truncate before any audio: code
    unsupported_content_type" (an assistant audio item with no audio yet)."""
    store = ConversationStore()
    store.add_output_item(spoken("a", ms, text=""), "resp_1")
    for end in (0, 100):
        err = refused(store.truncate("a", 0, end))
        assert (err.code, err.message) == ("unsupported_content_type", NOT_AUDIO)
    assert store.get("a") == spoken("a", ms, text="")


def test_truncate_past_the_audio_is_refused() -> None:
    """PROTOCOL-NOTES "Interruptions": audio_end_ms must not be beyond the audio; "Seen from
    the real server": "Audio content of <X>ms is already shorter than <Y>ms" (code null)."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 1200), "resp_1")
    err = refused(store.truncate("a", 0, 1500, event_id="evt_t"))
    assert err.code is None
    assert err.message == "Audio content of 1200ms is already shorter than 1500ms"
    assert err.event_id == "evt_t"
    assert store.get("a") == spoken("a", 1200)


def test_truncate_drops_the_transcript_and_cuts_the_audio() -> None:
    """PROTOCOL-NOTES "Interruptions": the server drops the truncated item's transcript;
    the audio keeps audio_end_ms; conversation.item.truncated confirms it."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 1200), "resp_1")
    out = store.truncate("a", 0, 700, event_id="evt_t")
    assert out == Truncated("a", 0, 700)
    item = store.get("a")
    assert isinstance(item, Message)
    assert (item.content, item.audio_ms, item.audio, item.role) == ("", 700, True, "assistant")
    record = store.record("a")
    assert record is not None and record.audio_total_ms == 1200
    # The audio is now 700 ms long: truncating further than that is past the audio.
    err = refused(store.truncate("a", 0, 900))
    assert err.message == "Audio content of 700ms is already shorter than 900ms"
    assert store.truncate("a", 0, 700) == Truncated("a", 0, 700)


def test_truncate_at_zero_is_accepted() -> None:
    """PROTOCOL-NOTES "Interruptions": truncating at 0 (the user heard nothing) is legal;
    deleting is merely better."""
    store = ConversationStore()
    store.add_output_item(spoken("a", 1200), "resp_1")
    assert store.truncate("a", 0, 0) == Truncated("a", 0, 0)
    assert store.get("a") == Message("a", "assistant", "", True, 0)


def test_truncate_of_an_unknown_or_deleted_item_is_refused() -> None:
    """RACES R15: a truncate may target an item a push just deleted; the server refuses it
    (assumed code item_truncate_invalid_item_id, by analogy with delete and retrieve)."""
    store = ConversationStore()
    store.add_output_item(spoken("a"), "resp_1")
    store.delete("a")
    for item_id in ("a", "ghost"):
        err = refused(store.truncate(item_id, 0, 10, event_id="evt_t"))
        assert err.code == "item_truncate_invalid_item_id"
        assert err.event_id == "evt_t"
    assert store.ids() == []


# -- function call outputs ----------------------------------------------------------------


def test_output_without_its_call_is_refused() -> None:
    """PROTOCOL-NOTES "Seen from the real server": code invalid_tool_call_id, "Tool call ID
    '<call_id>' not found in conversation."."""
    store = store_with(msg("u"), call("fc", "call_1"))
    err = refused(store.create(output("out", "call_9"), event_id="evt_o"))
    assert err.code == "invalid_tool_call_id"
    assert err.message == "Tool call ID 'call_9' not found in conversation."
    assert err.event_id == "evt_o"
    assert store.ids() == ["u", "fc"]
    assert added(store.create(output("out", "call_1"))).previous_item_id == "fc"


def test_output_for_a_call_the_model_made_is_accepted() -> None:
    """PROTOCOL-NOTES "Responses" (function calls): the model emits the call, the client
    creates the output with the same call_id."""
    store = store_with(msg("u"))
    store.add_output_item(call("fc", "call_7"), "resp_1")
    assert added(store.create(output("out", "call_7"))).previous_item_id == "fc"


def test_output_after_its_call_was_deleted_is_refused() -> None:
    """RACES R1: once the call is deleted, its output fails with invalid_tool_call_id."""
    store = ConversationStore()
    store.add_output_item(call("fc", "call_1"), "resp_1")
    store.create(output("out1", "call_1"))
    store.delete("fc")
    err = refused(store.create(output("out2", "call_1")))
    assert err.code == "invalid_tool_call_id"
    assert err.message == "Tool call ID 'call_1' not found in conversation."
    assert store.ids() == ["out1"]


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
