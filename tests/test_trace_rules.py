"""The rules checker, proven on the real recordings before it judges the simulator.

Every rule holds on every recording, and every rule catches a copy of a recording broken
the way that rule forbids (a checker that passes everything would pass the recordings
too).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from trace_rules import RULES, Trace, check
from trace_rules.shapes import Event, Recording, recorded_keysets, recordings

RECORDINGS = {rec.name: rec for rec in recordings()}
TOOL_ROUND = "openai_ws__tool_call_round"
AUDIO_IN = "openai_ws__audio_in_server_vad_turn"
SEEDING = "openai_ws__message_history_seeding"
PARITY = "parity_ws__text_tool_round_parity__openai-current"


def test_the_five_recordings_are_there() -> None:
    assert len(RECORDINGS) == 5


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_every_rule_holds_on_the_recording(name: str) -> None:
    rec = RECORDINGS[name]
    found = check(Trace(rec.server, rec.client, name=name, report_unrecorded=True))
    assert not found, "\n".join(map(str, found))


def test_key_sets_come_from_the_recordings() -> None:
    table = recorded_keysets()
    response = table["response"]["1"]
    assert {"audio", "conversation_id", "max_output_tokens", "metadata"} <= response
    # gpt-realtime-2.x adds ``phase`` to assistant messages; gpt-realtime does not.
    assert "phase" in table["item:message:assistant"]["2"]
    assert "phase" not in table["item:message:assistant"]["1"]


# -- each rule catches what it forbids --------------------------------------------------


def first(events: list[Event], kind: str, start: int = 0) -> int:
    return next(i for i, e in enumerate(events) if i >= start and e["type"] == kind)


def _dup_event_id(s: list[Event], c: list[Event]) -> None:
    s[3]["event_id"] = s[2]["event_id"]


def _strictly_wrong_type(s: list[Event], c: list[Event]) -> None:
    s[first(s, "response.output_item.added")]["output_index"] = "0"  # lax passes, strict not


def _second_session_created(s: list[Event], c: list[Event]) -> None:
    s.insert(2, copy.deepcopy(s[0]))


def _response_without_audio(s: list[Event], c: list[Event]) -> None:
    del s[first(s, "response.created")]["response"]["audio"]


def _no_response_done(s: list[Event], c: list[Event]) -> None:
    del s[first(s, "response.done")]


def _bad_output_index(s: list[Event], c: list[Event]) -> None:
    s[first(s, "response.function_call_arguments.done")]["output_index"] = 3


def _item_done_late(s: list[Event], c: list[Event]) -> None:
    at = first(s, "conversation.item.done", first(s, "response.created"))
    s.insert(first(s, "response.output_item.done", at) + 1, s.pop(at))


def _audio_part_in_text(s: list[Event], c: list[Event]) -> None:
    s[first(s, "response.content_part.added")]["part"] = {"type": "audio", "transcript": ""}


def _delta_changed(s: list[Event], c: list[Event]) -> None:
    s[first(s, "response.function_call_arguments.delta")]["delta"] += "x"


def _null_previous_mid_conversation(s: list[Event], c: list[Event]) -> None:
    s[first(s, "conversation.item.added", first(s, "response.created"))]["previous_item_id"] = None


def _done_previous_null_on_client_item(s: list[Event], c: list[Event]) -> None:
    second = first(s, "conversation.item.done", first(s, "conversation.item.done") + 1)
    s[second]["previous_item_id"] = None  # the assistant message the client created


def _missing_ack(s: list[Event], c: list[Event]) -> None:
    c.append({"type": "conversation.item.delete", "item_id": "item_gone"})


def _error_echoing_nothing(s: list[Event], c: list[Event]) -> None:
    s.append(
        {
            "type": "error",
            "event_id": "event_E6U14aaaaaaaaaaaaaaaaa",
            "error": {"type": "invalid_request_error", "message": "x", "event_id": "evt_nope"},
        }
    )


def _transcript_failed(s: list[Event], c: list[Event]) -> None:
    at = first(s, "conversation.item.input_audio_transcription.completed")
    s[at] = {
        "type": "conversation.item.input_audio_transcription.failed",
        "event_id": s[at]["event_id"],
        "item_id": s[at]["item_id"],
        "content_index": 0,
        "error": {"type": "transcription_error", "code": "x", "message": "x", "param": None},
    }


def _rate_limits_mid_response(s: list[Event], c: list[Event]) -> None:
    limits = {
        "type": "rate_limits.updated",
        "event_id": "event_E6U14bbbbbbbbbbbbbbbbb",
        "rate_limits": [{"name": "tokens", "limit": 1, "remaining": 1, "reset_seconds": 1.0}],
    }
    s.insert(first(s, "response.created") + 1, limits)


def _output_audio_buffer(s: list[Event], c: list[Event]) -> None:
    rid = s[first(s, "response.created")]["response"]["id"]
    event = {
        "type": "output_audio_buffer.started",
        "event_id": "event_E6U14ccccccccccccccccc",
        "response_id": rid,
    }
    s.append(event)


def _short_event_id(s: list[Event], c: list[Event]) -> None:
    s[1]["event_id"] = "event_1"


Mutation = Callable[[list[Event], list[Event]], None]
BROKEN: dict[str, tuple[str, Mutation]] = {
    "R01": (SEEDING, _dup_event_id),
    "R02": (TOOL_ROUND, _strictly_wrong_type),
    "R03": (TOOL_ROUND, _second_session_created),
    "R04": (SEEDING, _response_without_audio),
    "R05": (TOOL_ROUND, _no_response_done),
    "R06": (PARITY, _bad_output_index),
    "R07": (TOOL_ROUND, _item_done_late),
    "R08": (SEEDING, _audio_part_in_text),
    "R09": (TOOL_ROUND, _delta_changed),
    "R10": (TOOL_ROUND, _null_previous_mid_conversation),
    "R11": (SEEDING, _done_previous_null_on_client_item),
    "R12": (SEEDING, _missing_ack),
    "R13": (SEEDING, _error_echoing_nothing),
    "R14": (AUDIO_IN, _transcript_failed),
    "R15": (TOOL_ROUND, _rate_limits_mid_response),
    "R16": (SEEDING, _output_audio_buffer),
    "R17": (SEEDING, _short_event_id),
}


def test_every_rule_has_a_broken_recording() -> None:
    assert sorted(BROKEN) == sorted(RULES)


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_the_rule_catches_a_broken_recording(rule: str) -> None:
    name, mutate = BROKEN[rule]
    rec: Recording = RECORDINGS[name]
    server, client = copy.deepcopy(rec.server), copy.deepcopy(rec.client)
    mutate(server, client)
    found = check(Trace(server, client, name=name), [rule])
    assert found, f"{rule} did not notice {mutate.__name__}"


def test_the_first_item_quirk_is_allowed_only_on_response_output() -> None:
    """R11: a null ``conversation.item.done.previous_item_id`` is the real server's quirk
    only on a response item whose ``added`` named the conversation's first item."""
    rec = RECORDINGS[TOOL_ROUND]
    server = copy.deepcopy(rec.server)
    call_done = first(server, "conversation.item.done", first(server, "response.created"))
    assert server[call_done]["previous_item_id"] is None  # as recorded
    assert not check(Trace(server, rec.client), ["R11"])
    later = first(server, "conversation.item.done", first(server, "response.done"))
    server[later]["previous_item_id"] = None  # the output's ack: not a response item
    assert check(Trace(server, rec.client), ["R11"])
