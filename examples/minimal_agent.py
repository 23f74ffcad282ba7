"""The smallest agent: one tool, two turns. Simulator unless --url or OPENAI_API_KEY."""

import asyncio
import contextlib
import os
import sys

from accord import Agent, Message, RealtimeSession, function_tool
from accord.sim.server import SimServer


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 18C, light wind"


async def run(url: str | None) -> None:
    agent = Agent(instructions="Be brief; use get_weather for weather.", tools=[get_weather])
    async with contextlib.AsyncExitStack() as stack:
        if url is None and not os.environ.get("OPENAI_API_KEY"):
            url = (await stack.enter_async_context(SimServer())).url
        connecting = RealtimeSession.connect(url, session=agent.session_config())
        runner = agent.start(await stack.enter_async_context(connecting))
        for text in ("Hello!", "What is the weather in Paris?"):
            await runner.say(text)
            await runner.wait_idle()
        await runner.aclose()
        for item in runner.session.chat_ctx:
            who = item.role if isinstance(item, Message) else "tool"
            print(f"{who}: {getattr(item, 'text', type(item).__name__)}")


def main() -> None:
    asyncio.run(run(sys.argv[2] if sys.argv[1:2] == ["--url"] else None))


if __name__ == "__main__":
    main()
