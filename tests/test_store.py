"""ConversationStore: the server's conversation semantics, rule by rule.

Each test names the note it checks: a section of docs/protocol-notes.md, "PROTOCOL-NOTES"
below ("Conversation items", "Seen from the real server", "Details clients rely on",
"Interruptions"), a race of docs/races.md, "RACES" (R6, R17, R20), or a part of
docs/architecture.md, "DESIGN". This file holds the client's operations; the server's
own changes and provenance are in :mod:`test_store_server`, and the property test that
drives random operation sequences in :mod:`test_store_property`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accord.ids import is_wire_safe
from accord.items import Item, Message
from accord.sim.store import (
    ROOT,
    ConversationStore,
    Deleted,
    Retrieved,
    StoreConfig,
    Truncated,
)
from store_support import added, call, msg, output, refused, spoken, store_with

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
