"""Server ids: the real format (R17), never one a conversation already holds, and never
the ids of another server process (a restarted ``accord sim serve`` with the same seed).
"""

from __future__ import annotations

from typing import Any

from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from sim_process import sim_serve
from test_sim_support import TEXT_ONLY, Wire, create, user_text
from trace_rules import Trace, check

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def assistant_text(text: str, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return item


async def seed_and_ask(url: str, items: list[dict[str, Any]]) -> tuple[Wire, list[dict[str, Any]]]:
    """Create ``items``, ask for a response; every event up to its response.done."""
    wire = await Wire.open(url)
    await wire.until("session.created")
    await wire.send(TEXT_ONLY)
    await wire.until("session.updated")
    for item in items:
        await wire.send(create(item))
    await wire.send({"type": "response.create"})
    return wire, await wire.until("response.done")


def reply_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    done = events[-1]["response"]
    assert done["status"] == "completed", done
    assert done["output"], "the response has no output"
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert deltas, "no text streamed"
    return done


HISTORY = [user_text("My name is Alice."), assistant_text("Hello Alice!"), user_text("Who am I?")]


async def test_history_seeded_without_client_ids_gets_a_reply() -> None:
    """The response's output item drew the id the store had given a seeded item, and the
    response task died: response.done with empty output, no text."""
    async with SimServer(SimConfig()) as sim:
        wire, events = await seed_and_ask(sim.url, HISTORY)
        reply_of(events)
        ids = sim.sessions[0].store.ids()
        assert len(ids) == len(set(ids)) == 4
        await wire.close()


def _issued(events: list[dict[str, Any]]) -> set[str]:
    found = {e["event_id"] for e in events}
    for e in events:
        if isinstance(e.get("item"), dict):
            found.add(e["item"]["id"])
        if e["type"] in ("response.created", "response.done"):
            found.add(e["response"]["id"])
    return found


async def test_a_restarted_server_process_issues_new_ids_and_a_restore_gets_a_reply() -> None:
    """Same seed, two processes: no id of the first recurs in the second, so an agent that
    restores the first server's items (under their ids) on the second gets its reply."""
    with sim_serve("--seed", "0") as port:
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        wire, first = await seed_and_ask(url, HISTORY)
        await wire.close()
    kept = [e["item"] for e in first if e["type"] == "conversation.item.done"]
    restored = [{k: v for k, v in item.items() if k != "status"} for item in kept]
    with sim_serve("--seed", "0") as port:
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        wire, second = await seed_and_ask(url, restored)
        reply_of(second)
        await wire.close()
    restored_ids = {item["id"] for item in restored}
    assert not (_issued(first) & _issued(second)) - restored_ids


async def test_a_restore_into_a_server_of_the_same_seed_in_one_process_gets_a_reply() -> None:
    """In one process a seed repeats its ids (reproducible runs), so the conversation itself
    must refuse to hand out an id it holds."""
    async with SimServer(SimConfig(seed=5)) as sim:
        wire, first = await seed_and_ask(sim.url, HISTORY)
        await wire.close()
    kept = [e["item"] for e in first if e["type"] == "conversation.item.done"]
    restored = [{k: v for k, v in item.items() if k != "status"} for item in kept]
    async with SimServer(SimConfig(seed=5)) as sim:
        wire, second = await seed_and_ask(sim.url, restored)
        reply_of(second)
        await wire.close()


async def test_seeded_ids_repeat_within_a_process_and_sessions_share_none() -> None:
    runs = []
    for _ in range(2):
        async with SimServer(SimConfig(seed=11)) as sim:
            a, b = await Wire.open(sim.url), await Wire.open(sim.url)
            runs.append([(await w.until("session.created"))[0] for w in (a, b)])
            await a.close()
            await b.close()
    assert [e["event_id"] for e in runs[0]] == [e["event_id"] for e in runs[1]]
    assert runs[0][0]["event_id"] != runs[0][1]["event_id"]
    assert runs[0][0]["session"]["id"] != runs[0][1]["session"]["id"]


async def test_every_id_has_the_real_format() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        await wire.send(
            {"type": "session.update", "session": {**TEXT_ONLY["session"], "tools": [WEATHER]}}
        )
        await wire.until("session.updated")
        await wire.send(create(user_text("What is the weather in Oslo?")))
        await wire.send({"type": "response.create"})
        events = await wire.until("response.done")
        found = check(Trace(wire.events, []), ["R17"])
        assert not found, "\n".join(map(str, found))
        session = wire.events[0]["session"]["id"]
        assert session.startswith("sess_") and len(session) == 26
        assert any(e["type"] == "response.function_call_arguments.done" for e in events)
        await wire.close()
