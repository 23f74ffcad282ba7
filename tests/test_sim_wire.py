"""The simulator on the wire: malformed input, many sessions, responses side by side, and
the connection-level behaviour of docs/protocol-notes.md ("Transport").

Raw websocket clients, so that the tests control every frame and see every close code;
every server event is still validated against the official SDK's types.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.model import PlannedText, ScriptedModel
from accord.sim.server import SimServer, expired_reason
from test_sim_support import (
    TEXT_ONLY,
    TIMEOUT,
    SdkStream,
    Wire,
    check_response,
    create,
    matches,
    types,
    user_text,
)

LONG = "word " * 80  # 400 characters: a response that streams for a while


def scripted(*texts: str) -> ScriptedModel:
    model = ScriptedModel()
    for text in texts:
        model.add(PlannedText(text))
    return model


async def closed(stream: Wire) -> ConnectionClosed:
    """Read until the server closes; the close (every event before it validated)."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await stream.recv()
    except ConnectionClosed as exc:
        return exc
    raise AssertionError("unreachable")


async def ask(wire: Wire, **response: Any) -> list[dict[str, Any]]:
    """``response.create`` and every event up to its ``response.done``."""
    body: dict[str, Any] = {"type": "response.create"}
    if response:
        body["response"] = response
    await wire.send(body)
    return await wire.until("response.done")


# -- malformed input ---------------------------------------------------------------------


async def test_malformed_input_gets_the_real_errors_and_the_session_keeps_working() -> None:
    async with SimServer(SimConfig(max_event_bytes=4096)) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")

        await wire.send_raw("{not json")
        err = (await wire.until("error"))[-1]["error"]
        assert (err["code"], err["event_id"]) == ("invalid_json", None)

        await wire.send_raw("[1, 2]")  # JSON, but not an object
        assert (await wire.until("error"))[-1]["error"]["code"] == "invalid_json"

        await wire.send_raw(b"\x00\x01binary")
        assert (await wire.until("error"))[-1]["error"]["code"] == "invalid_event"

        await wire.send({"type": "conversation.item.explode", "event_id": "unk"})
        err = await wire.error_for("unk")
        assert (err["code"], err["param"]) == ("invalid_value", "type")
        assert err["message"].startswith("Invalid value: 'conversation.item.explode'. ")
        assert "'session.update'" in err["message"]

        await wire.send({"type": "conversation.item.delete", "event_id": "no_id"})
        err = await wire.error_for("no_id")
        assert (err["code"], err["param"], err["message"]) == (
            "missing_required_parameter",
            "item_id",
            "Missing required parameter: 'item_id'.",
        )
        await wire.send({"event_id": "no_type"})
        err = await wire.error_for("no_type")
        assert (err["code"], err["param"]) == ("missing_required_parameter", "type")

        await wire.send({"type": "conversation.item.delete", "item_id": 5, "event_id": "num"})
        err = await wire.error_for("num")
        assert (err["code"], err["param"]) == ("invalid_value", "item_id")

        big = {"type": "input_audio_buffer.append", "audio": "A" * 6000, "event_id": "big"}
        await wire.send(big)
        err = (await wire.until("error"))[-1]["error"]
        assert err["code"] == "invalid_event" and "maximum size" in err["message"]

        # Still the same session, still working.
        assert len(sim.sessions) == 1
        await wire.send(TEXT_ONLY)
        await wire.send(create(user_text("still here", "u1")))
        events = await ask(wire)
        done = check_response(events, events[-1]["response"]["id"])
        assert done["response"]["output"][0]["content"][0]["text"] == "You said: still here"
        await wire.close()


async def test_an_update_before_session_created_and_errors_without_an_event_id() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url)
        await wire.send(TEXT_ONLY)  # without waiting for session.created
        first, second = await wire.recv(), await wire.recv()
        assert (first["type"], second["type"]) == ("session.created", "session.updated")
        assert second["session"]["output_modalities"] == ["text"]
        # No event_id sent: error.event_id is null.
        await wire.send_raw(json.dumps({"type": "conversation.item.delete", "item_id": "nope"}))
        err = (await wire.until("error"))[-1]["error"]
        assert (err["code"], err["event_id"]) == ("item_delete_invalid_item_id", None)
        await wire.close()


# -- many sessions -----------------------------------------------------------------------


async def test_many_concurrent_sessions_each_with_its_own_store() -> None:
    async with SimServer(SimConfig()) as sim:

        async def one(n: int) -> str:
            wire = await Wire.open(sim.url)
            await wire.until("session.created")
            await wire.send(TEXT_ONLY)
            # Every client uses the same item id: no store is shared.
            await wire.send(create(user_text(f"client {n}", "u1")))
            events = await ask(wire)
            assert "error" not in types(events)
            done = check_response(events, events[-1]["response"]["id"])
            await wire.close()
            return str(done["response"]["output"][0]["content"][0]["text"])

        answers = await asyncio.gather(*(one(n) for n in range(40)))
        assert answers == [f"You said: client {n}" for n in range(40)]
        assert len(sim.sessions) == 40
        assert len({id(s.store) for s in sim.sessions}) == 40
        assert all(s.store.ids()[0] == "u1" and len(s.store.ids()) == 2 for s in sim.sessions)


# -- responses side by side --------------------------------------------------------------


async def test_out_of_band_beside_in_band_cancel_busy_and_metadata() -> None:
    config = SimConfig(delta_chars=4, stream_pause_ms=2)
    model = scripted(LONG, LONG, LONG)
    async with SimServer(config, model_factory=lambda: model) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        await wire.send(TEXT_ONLY)
        await wire.send(create(user_text("tell me a story", "u1")))
        await wire.acked("u1")

        await wire.send({"type": "response.create", "response": {"metadata": {"kind": "main"}}})
        main_created = (await wire.until("response.created"))[-1]["response"]
        main_id = main_created["id"]
        assert main_created["metadata"] == {"kind": "main"}
        await wire.until(matches("response.output_text.delta", response_id=main_id))

        # Busy: a second in-band response is refused, naming the active one.
        busy_id = await wire.send({"type": "response.create"})
        err = await wire.error_for(busy_id)
        assert err["code"] == "conversation_already_has_active_response"
        assert err["message"] == (
            f"Conversation already has an active response in progress: {main_id}. Wait "
            "until the response is finished before creating a new one."
        )

        # Out of band, beside the in-band response, with its own input.
        await wire.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "metadata": {"kind": "summary"},
                    "input": [
                        {"type": "item_reference", "id": "u1"},
                        user_text("Summarize the conversation."),
                    ],
                },
            }
        )
        oob = (
            await wire.until(
                lambda e: e["type"] == "response.created" and e["response"]["id"] != main_id
            )
        )[-1]["response"]
        assert oob["metadata"] == {"kind": "summary"}
        assert oob.get("conversation_id") is None
        await wire.until(matches("response.output_text.delta", response_id=oob["id"]))

        # A cancel without response_id cancels only the conversation's own response.
        await wire.send({"type": "response.cancel"})
        rest = await wire.until(
            lambda e: e["type"] == "response.done" and e["response"]["id"] == oob["id"]
        )
        everything = wire.events
        main_done = check_response(everything, main_id)
        oob_done = check_response(everything, oob["id"])
        assert main_done["response"]["status"] == "cancelled"
        assert main_done["response"]["status_details"]["reason"] == "client_cancelled"
        assert main_done["response"]["metadata"] == {"kind": "main"}
        assert oob_done["response"]["status"] == "completed"
        assert oob_done["response"]["metadata"] == {"kind": "summary"}
        kinds = types(everything)
        assert kinds.count("response.created") == 2  # none for the refused create
        # The out-of-band item never entered the conversation, nor its events.
        oob_item = oob_done["response"]["output"][0]["id"]
        assert not [
            e
            for e in everything
            if e["type"].startswith("conversation.item.")
            and e.get("item", {}).get("id") == oob_item
        ]
        store = sim.sessions[0].store
        assert oob_item not in store.ids()
        assert store.ids() == ["u1", main_done["response"]["output"][0]["id"]]
        # The in-band response ended first; the out-of-band one streamed on after it.
        ended = [e["response"]["id"] for e in rest if e["type"] == "response.done"]
        assert ended == [main_id, oob["id"]]
        after_main = rest[[e["type"] for e in rest].index("response.done") :]
        assert "response.output_text.delta" in types(after_main)

        # Cancelling an out-of-band response by its id.
        await wire.send({"type": "response.create", "response": {"conversation": "none"}})
        third = (await wire.until("response.created"))[-1]["response"]["id"]
        await wire.until(matches("response.output_text.delta", response_id=third))
        await wire.send({"type": "response.cancel", "response_id": third})
        done = (await wire.until("response.done"))[-1]
        assert (done["response"]["id"], done["response"]["status"]) == (third, "cancelled")
        check_response(wire.events, third)
        await wire.close()


async def test_cancel_sent_before_response_created_is_a_no_op() -> None:
    """docs/protocol-notes.md: the response runs anyway (and the session is not left busy)."""
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        await wire.send(TEXT_ONLY)
        await wire.until("session.updated")
        session = sim.sessions[0]
        session.inbox.hold()  # both frames reach the server together
        await wire.send({"type": "response.create"})
        cancel_id = await wire.send({"type": "response.cancel"})
        async with asyncio.timeout(TIMEOUT):
            while session.inbox.pending < 2:
                await asyncio.sleep(0.005)
        session.inbox.release()
        events = await wire.until("response.done")
        err = next(e for e in events if e["type"] == "error")["error"]
        assert (err["code"], err["event_id"]) == ("response_cancel_not_active", cancel_id)
        assert events[-1]["response"]["status"] == "completed"
        again = await ask(wire)
        assert again[-1]["response"]["status"] == "completed"
        await wire.close()


async def test_truncate_assistant_audio() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        await wire.send(create(user_text("hi", "u1")))
        events = await ask(wire)
        reply = check_response(events, events[-1]["response"]["id"])["response"]["output"][0]
        assert reply["content"][0]["type"] == "output_audio"
        pcm = b"".join(
            base64.b64decode(e["delta"])
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        received_ms = audio.duration_ms(pcm)
        assert received_ms > 500
        # The server holds ~85 ms less than the client received (docs/protocol-notes.md): a
        # truncate at the received length is refused with the observed message.
        at_end = await wire.send(
            {
                "type": "conversation.item.truncate",
                "item_id": reply["id"],
                "content_index": 0,
                "audio_end_ms": received_ms,
            }
        )
        err = await wire.error_for(at_end)
        held_ms = received_ms - 85
        assert (
            err["message"]
            == f"Audio content of {held_ms}ms is already shorter than {received_ms}ms"
        )
        await wire.send(
            {
                "type": "conversation.item.truncate",
                "item_id": reply["id"],
                "content_index": 0,
                "audio_end_ms": 300,
            }
        )
        truncated = (await wire.until("conversation.item.truncated"))[-1]
        assert (truncated["item_id"], truncated["audio_end_ms"]) == (reply["id"], 300)
        await wire.send({"type": "conversation.item.retrieve", "item_id": reply["id"]})
        got = (await wire.until("conversation.item.retrieved"))[-1]["item"]
        assert got["content"][0]["transcript"] in (None, "")  # the transcript is dropped
        await wire.close()


# -- the transport -----------------------------------------------------------------------


async def test_a_bad_key_gets_invalid_api_key_and_close_3000() -> None:
    async with SimServer(SimConfig(require_key="sk-right")) as sim:
        for headers in ({"Authorization": "Bearer sk-wrong-key-1234"}, {}):
            wire = await Wire.open(sim.url, headers=headers)
            first = await wire.recv()
            assert first["type"] == "error"
            assert first["error"]["code"] == "invalid_api_key"
            assert "sk-wrong-key" not in first["error"]["message"]  # keys are never echoed
            exc = await closed(wire)
            assert exc.rcvd is not None and exc.rcvd.code == 3000

        good = await Wire.open(sim.url, headers={"Authorization": "Bearer sk-right"})
        assert (await good.recv())["type"] == "session.created"
        await good.close()

        # The SDK sees the same: an upgrade, the error, then the close.
        client = AsyncOpenAI(api_key="sk-wrong", websocket_base_url=sim.base_url)
        async with client.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
            rx = SdkStream(conn)
            first = await rx.recv()
            assert first["error"]["code"] == "invalid_api_key"
            with pytest.raises(ConnectionClosed) as info:
                await rx.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 3000


async def test_an_unknown_model_closes_with_4000() -> None:
    async with SimServer(SimConfig()) as sim:
        for model in ("gpt-unknown", None):
            wire = await Wire.open(sim.url, model=model)
            exc = await closed(wire)
            assert exc.rcvd is not None and exc.rcvd.code == 4000
            assert wire.events == []
        assert sim.sessions == []


async def test_the_azure_ga_path_with_the_api_key_header() -> None:
    async with SimServer(SimConfig(require_key="azure-key")) as sim:
        azure = f"ws://{sim.config.host}:{sim.port}/openai/v1/realtime"
        wire = await Wire.open(azure, headers={"api-key": "azure-key"})
        assert (await wire.recv())["type"] == "session.created"
        await wire.send(TEXT_ONLY)
        await wire.send(create(user_text("on azure", "u1")))
        events = await ask(wire)
        assert check_response(events, events[-1]["response"]["id"])["response"]["status"] == (
            "completed"
        )
        await wire.close()

        refused = await Wire.open(azure, headers={"api-key": "not-it"})
        assert (await refused.recv())["error"]["code"] == "invalid_api_key"
        exc = await closed(refused)
        assert exc.rcvd is not None and exc.rcvd.code == 3000

        # The SDK's Azure client: api-key header, ?deployment=... on the same path.
        client = AsyncAzureOpenAI(
            api_key="azure-key",
            api_version="2025-08-28",
            azure_endpoint=f"http://{sim.config.host}:{sim.port}",
            websocket_base_url=f"ws://{sim.config.host}:{sim.port}/openai/v1",
        )
        async with client.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
            assert (await SdkStream(conn).recv())["type"] == "session.created"

        with pytest.raises(InvalidStatus) as info:
            await Wire.open(f"ws://{sim.config.host}:{sim.port}/v2/elsewhere")
        assert info.value.response.status_code == 404


async def test_the_beta_header_is_refused_on_the_ga_endpoint() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url, headers={"OpenAI-Beta": "realtime=v1"})
        assert (await wire.recv())["type"] == "error"
        await closed(wire)
        assert sim.sessions == []


@pytest.mark.parametrize("beta", [False, True])
async def test_the_session_expires_with_1001(beta: bool) -> None:
    async with SimServer(SimConfig(session_max_seconds=0.3, beta_expiry=beta)) as sim:
        began = time.time()
        wire = await Wire.open(sim.url)
        created = (await wire.until("session.created"))[-1]
        assert abs(created["session"]["expires_at"] - began) <= 1.5
        exc = await closed(wire)
        assert exc.rcvd is not None
        assert (exc.rcvd.code, exc.rcvd.reason) == (1001, expired_reason(0.3))
        assert time.time() - began >= 0.3
        errors = [e["error"] for e in wire.events if e["type"] == "error"]
        if beta:
            assert [(e["code"], e["message"]) for e in errors] == [
                ("session_expired", expired_reason(0.3))
            ]
        else:
            assert errors == []
