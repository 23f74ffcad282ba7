"""A concierge with several tools, a summarizer and a PII redactor, over a few turns.

The context policies push edits while tool calls are in flight (the summarizer is an
out-of-band model call, so its snapshot is stale by the time it pushes); accord keeps
the conversation in agreement anyway. At the end the client's mirror is compared with
the simulator's store: the script exits 1 if they differ.

    python examples/tool_heavy_agent.py            # the embedded simulator
    python examples/tool_heavy_agent.py --url URL  # any Realtime endpoint
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import Literal

from accord import Agent, RealtimeSession, function_tool
from accord.agent import AgentRunner, ContextEdited, ToolFinished, Transcript
from accord.policies import RedactToolOutputs, SummarizeOlder
from accord.sim.server import SimServer

ORDERS = {"A-1": "shipped yesterday", "B-7": "waiting for stock"}
RATES = {"EUR": 1.0, "USD": 1.08, "JPY": 162.0}

TURNS = (
    "Hi, I am Ada and I am planning an evening out.",
    "What is the weather in Lisbon tonight?",
    "Please book a table for four at 20:00.",
    "How much is 50 in currency JPY? Convert it.",
    "And lookup order 42 for me.",
    "Thanks, that is all.",
)


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name
    """
    return f"{city}: 18C, light wind"


@function_tool(timeout=5.0)
async def book_table(people: int, time: str = "20:00") -> dict[str, object]:
    """Book a restaurant table (slow: it calls the restaurant).

    Args:
        people: how many guests
        time: when, e.g. 20:00
    """
    await asyncio.sleep(0.2)
    return {"booked": True, "people": people, "time": time, "card": "4111 1111 1111 1111"}


@function_tool
def convert_currency(amount: float, to: Literal["EUR", "USD", "JPY"] = "EUR") -> str:
    """Convert an amount in euros.

    Args:
        amount: euros
        to: the target currency
    """
    return f"{amount:g} EUR = {amount * RATES[to]:g} {to}"


@function_tool
def lookup_order(order_id: str) -> str:
    """The status of an order.

    Args:
        order_id: the order's id, like A-1
    """
    if order_id not in ORDERS:  # the runner turns this into an output the model reads
        raise KeyError(f"no order {order_id!r}")
    return ORDERS[order_id]


def make_agent() -> Agent:
    return Agent(
        instructions="You are a concierge. Use the tools; keep answers short.",
        tools=[get_weather, book_table, convert_currency, lookup_order],
        context_policy=[SummarizeOlder(keep_turns=2), RedactToolOutputs()],
    )


async def narrate(runner: AgentRunner) -> None:
    async for event in runner.events():
        if isinstance(event, Transcript) and event.role == "assistant":
            print(f"  assistant: {event.text[:90]}")
        elif isinstance(event, ToolFinished):
            print(f"  tool {event.name}: {'ok' if event.ok else f'failed ({event.error})'}")
        elif isinstance(event, ContextEdited):
            busy = f" while {event.calls_in_flight} call(s) ran" if event.calls_in_flight else ""
            print(f"  policy {event.policy}: {len(event.report.sent)} op(s){busy}")


async def run(url: str | None) -> int:
    agent = make_agent()
    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if url is None and not os.environ.get("OPENAI_API_KEY"):
            sim = await stack.enter_async_context(SimServer())
            url = sim.url
        connecting = RealtimeSession.connect(url, session=agent.session_config())
        session = await stack.enter_async_context(connecting)
        runner = agent.start(session)
        printer = asyncio.ensure_future(narrate(runner))
        for text in TURNS:
            print(f"user: {text}")
            await runner.say(text)
            await runner.wait_idle()
            await asyncio.sleep(0)  # let the narrator catch up
        mirror = session.core.engine.mirror_items()
        store = sim.sessions[0].store.items() if sim is not None else None
        await runner.aclose()
        await printer
        stats = runner.stats
        print("--- sync summary ---")
        print(f"turns: {len(TURNS)}")
        print(f"tool calls: {stats.tool_calls} ({stats.tool_failures} failed)")
        print(f"context pushes: {stats.pushes} ({stats.pushes_during_calls} during calls)")
        print(f"server errors: {len(stats.server_errors)}")
        if store is None:
            print(f"mirror items: {len(mirror)} (the store is visible on the simulator only)")
            return 0
        print(f"mirror items: {len(mirror)}, store items: {len(store)}")
        same = mirror == store
        print(f"mirror == store: {'yes' if same else 'NO'}")
        return 0 if same else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a Realtime endpoint (default: the embedded simulator)")
    sys.exit(asyncio.run(run(parser.parse_args().url)))


if __name__ == "__main__":
    main()
