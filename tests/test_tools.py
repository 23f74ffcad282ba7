"""``@function_tool``: schemas from hints and docstrings, and invocations that never raise.

Every failure (bad JSON, invalid arguments, a raising tool, a timeout) must come back as
a JSON output that tells the model what went wrong, so the conversation can go on; only
a cancellation (an interruption) propagates, and it cancels the tool for real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import subprocess
import sys
import threading
import time
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from accord.tools import (
    DEFAULT_MAX_OUTPUT,
    DEFAULT_TIMEOUT,
    FunctionTool,
    ToolResult,
    function_tool,
    unknown_tool,
)


def explained(result: ToolResult, kind: str) -> str:
    """The failure's message, after checking the output is JSON that names the problem."""
    assert not result.ok
    assert result.error == kind
    body = json.loads(result.output)
    assert body["error"] == kind
    assert isinstance(body["message"], str)
    assert body["message"]
    return str(body["message"])


# -- tools used below --------------------------------------------------------------------


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    street: str
    number: int = 1


class Receipt(BaseModel):
    order: int
    total: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


@function_tool
def get_weather(city: str, days: int = 1, unit: Literal["c", "f"] = "c") -> str:
    """Current weather for a city.

    The forecast comes from a made-up service.

    Args:
        city: the city's name
        days (int): how many days
            ahead, at most 7
        unit: c or f

    Returns:
        A sentence.
    """
    return f"{city}: sunny for {days} day(s) in {unit}"


@function_tool(timeout=2.5, max_output_chars=64)
async def deliver(address: Address, units: Unit = Unit.CELSIUS, note: str | None = None) -> str:
    """Deliver to an address.

    Args:
        address: where to
        units: the thermometer's units
        note: for the courier
    """
    return f"{address.number} {address.street} ({units.value}) {note or ''}".strip()


# -- schema ------------------------------------------------------------------------------


def test_schema_from_hints_and_docstring() -> None:
    schema = get_weather.schema
    assert schema["type"] == "function"
    assert schema["name"] == "get_weather"
    assert schema["description"] == "Current weather for a city."
    params = schema["parameters"]
    assert params["type"] == "object"
    assert "title" not in params
    props = params["properties"]
    assert props["city"] == {"type": "string", "description": "the city's name"}
    # A continuation line belongs to the description; "(int)" is not part of it.
    assert props["days"]["description"] == "how many days ahead, at most 7"
    assert props["days"]["type"] == "integer"
    assert props["days"]["default"] == 1
    assert props["unit"]["enum"] == ["c", "f"]
    assert props["unit"]["default"] == "c"
    assert params["required"] == ["city"]  # parameters with defaults are optional
    assert all("title" not in prop for prop in props.values())
    json.dumps(schema)  # what session.update sends


def test_schema_with_enum_nested_model_and_optional() -> None:
    params = deliver.schema["parameters"]
    assert params["required"] == ["address"]
    props = params["properties"]
    assert props["address"]["description"] == "where to"
    ref = props["address"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    nested = params["$defs"][name]
    assert nested["properties"]["street"]["type"] == "string"
    assert nested["required"] == ["street"]
    unit_schema = params["$defs"][props["units"]["$ref"].rsplit("/", 1)[-1]]
    assert unit_schema["enum"] == ["celsius", "fahrenheit"]
    assert props["units"]["default"] == "celsius"
    assert props["note"]["description"] == "for the courier"
    assert {"type": "null"} in props["note"]["anyOf"]


def test_decorator_forms_and_overrides() -> None:
    assert isinstance(get_weather, FunctionTool)
    assert get_weather.timeout == DEFAULT_TIMEOUT
    assert get_weather.max_output_chars == DEFAULT_MAX_OUTPUT
    assert not get_weather.is_async
    assert isinstance(deliver, FunctionTool)
    assert deliver.timeout == 2.5
    assert deliver.max_output_chars == 64
    assert deliver.is_async

    @function_tool(name="lookup", description="Look a word up.")
    def find(word: str) -> str:
        """Ignored summary."""
        return word

    assert find.name == "lookup"
    assert find.schema["name"] == "lookup"
    assert find.schema["description"] == "Look a word up."
    assert find("hi") == "hi"  # the tool is still the function


def test_tool_without_docstring_or_parameters() -> None:
    @function_tool
    def ping() -> str:
        return "pong"

    assert ping.description == ""
    assert ping.schema["parameters"]["properties"] == {}
    assert "required" not in ping.schema["parameters"]


def test_star_args_cannot_be_described() -> None:
    def variadic(*names: str) -> str:
        return ",".join(names)

    with pytest.raises(TypeError, match="args"):
        function_tool(variadic)


# -- invoking: success -------------------------------------------------------------------


async def test_sync_tool_runs_in_a_thread() -> None:
    seen: list[int] = []

    @function_tool
    def where(city: str) -> str:
        """Which thread."""
        seen.append(threading.get_ident())
        return city.upper()

    result = await where.invoke('{"city": "oslo"}')
    assert result == ToolResult("OSLO", True)
    assert seen and seen[0] != threading.get_ident()


async def test_async_tool_and_defaults() -> None:
    result = await get_weather.invoke('{"city": "Lima"}')
    assert result.ok
    assert result.output == "Lima: sunny for 1 day(s) in c"
    result = await deliver.invoke('{"address": {"street": "Rua Augusta", "number": 5}}')
    assert result.ok
    assert result.output == "5 Rua Augusta (celsius)"
    result = await deliver.invoke(
        '{"address": {"street": "Main"}, "units": "fahrenheit", "note": "ring"}'
    )
    assert result.output == "1 Main (fahrenheit) ring"


async def test_empty_arguments_mean_no_arguments() -> None:
    @function_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert (await ping.invoke("")).output == "pong"
    assert (await ping.invoke("{}")).output == "pong"


async def test_non_string_results_become_json() -> None:
    @function_tool
    def as_dict() -> dict[str, Any]:
        """A dict."""
        return {"ok": True, "städte": ["Zürich"], "n": 2}

    @function_tool
    async def as_model() -> Receipt:
        """A model."""
        return Receipt(order=7, total=9.5)

    @function_tool
    def as_nested() -> dict[str, Any]:
        """Models, dataclasses and sets inside containers."""
        return {"receipts": [Receipt(order=1, total=2.0)], "point": Point(1, 2), "tags": {"a"}}

    @function_tool
    def as_none() -> None:
        """Nothing."""

    @function_tool
    def as_object() -> object:
        """Not JSON at all."""
        return threading.Lock

    assert json.loads((await as_dict.invoke("{}")).output) == {
        "ok": True,
        "städte": ["Zürich"],
        "n": 2,
    }
    assert "Zürich" in (await as_dict.invoke("{}")).output  # not \u-escaped
    assert json.loads((await as_model.invoke("{}")).output) == {"order": 7, "total": 9.5}
    assert json.loads((await as_nested.invoke("{}")).output) == {
        "receipts": [{"order": 1, "total": 2.0}],
        "point": {"x": 1, "y": 2},
        "tags": ["a"],
    }
    assert (await as_none.invoke("{}")).output == "null"
    result = await as_object.invoke("{}")
    assert result.ok
    assert "lock" in result.output.lower()


async def test_oversized_output_is_truncated_with_a_note() -> None:
    @function_tool(max_output_chars=50)
    def dump() -> str:
        """A lot of text."""
        return "x" * 1000

    result = await dump.invoke("{}")
    assert result.ok
    assert result.truncated
    assert result.output.startswith("x" * 50)
    assert not result.output.startswith("x" * 51)
    assert "[output truncated: 1000 characters, limit 50]" in result.output
    assert len(result.output) < 200

    @function_tool(max_output_chars=50)
    def fits() -> str:
        """Exactly the limit."""
        return "y" * 50

    exact = await fits.invoke("{}")
    assert exact == ToolResult("y" * 50, True)


# -- invoking: failures ------------------------------------------------------------------


@pytest.mark.parametrize("arguments", ["{not json", '{"city": "Oslo"', "nul", "{'city': 1}"])
async def test_bad_json(arguments: str) -> None:
    message = explained(await get_weather.invoke(arguments), "bad_json")
    assert "not valid JSON" in message


@pytest.mark.parametrize("arguments", ["[1, 2]", "null", '"Oslo"', "42", "true"])
async def test_arguments_must_be_an_object(arguments: str) -> None:
    message = explained(await get_weather.invoke(arguments), "bad_json")
    assert "JSON object" in message


async def test_deeply_nested_json_does_not_escape() -> None:
    message = explained(await get_weather.invoke("[" * 100_000), "bad_json")
    assert "not valid JSON" in message


async def test_missing_argument() -> None:
    message = explained(await get_weather.invoke("{}"), "invalid_arguments")
    assert "city" in message
    assert "required" in message.lower()


async def test_invalid_arguments_name_each_problem() -> None:
    result = await get_weather.invoke('{"city": "Oslo", "days": "many", "unit": "k"}')
    message = explained(result, "invalid_arguments")
    assert "days" in message
    assert "integer" in message
    assert "unit" in message
    assert "'c' or 'f'" in message


async def test_invalid_nested_argument_names_its_path() -> None:
    message = explained(
        await deliver.invoke('{"address": {"number": "x"}, "units": "kelvin"}'),
        "invalid_arguments",
    )
    assert "address.street" in message
    assert "address.number" in message
    assert "units" in message


async def test_raising_tool() -> None:
    @function_tool
    def broken(city: str) -> str:
        """Always fails."""
        raise ValueError(f"no station in {city}")

    @function_tool
    async def broken_async() -> str:
        """Always fails."""
        raise RuntimeError("database is down")

    message = explained(await broken.invoke('{"city": "Oslo"}'), "raised")
    assert "ValueError" in message
    assert "no station in Oslo" in message
    message = explained(await broken_async.invoke("{}"), "raised")
    assert "RuntimeError: database is down" in message


async def test_a_timeout_the_tool_raises_is_not_our_timeout() -> None:
    @function_tool(timeout=5)
    async def upstream() -> str:
        """Its own network call timed out."""
        raise TimeoutError("upstream took too long")

    message = explained(await upstream.invoke("{}"), "raised")
    assert "upstream took too long" in message


async def test_hanging_async_tool_times_out() -> None:
    finished = False

    @function_tool(timeout=0.05)
    async def hang() -> str:
        """Never returns."""
        nonlocal finished
        await asyncio.sleep(30)
        finished = True
        return "late"

    started = time.monotonic()
    message = explained(await hang.invoke("{}"), "timeout")
    assert time.monotonic() - started < 1.0
    assert "0.05 s" in message
    assert not finished


async def test_slow_sync_tool_times_out() -> None:
    @function_tool(timeout=0.05)
    def crawl() -> str:
        """Blocks its thread for a while."""
        time.sleep(0.2)
        return "late"

    started = time.monotonic()
    explained(await crawl.invoke("{}"), "timeout")
    assert time.monotonic() - started < 0.2


HUNG_SYNC_TOOL = """
import asyncio, logging, time
from accord.tools import function_tool

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

@function_tool(timeout=0.5)
def stuck() -> str:
    \"\"\"Never comes back in time.\"\"\"
    time.sleep(8)
    return "late"

async def main() -> None:
    print((await stuck.invoke("{}")).error, flush=True)

asyncio.run(main())
"""


def test_a_hung_sync_tool_does_not_keep_the_process_alive() -> None:
    """It reported the timeout after 0.5 s but asyncio.run waited for the thread: 8 s."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HUNG_SYNC_TOOL],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timeout"
    assert elapsed < 5, f"the process took {elapsed:.1f} s to exit"
    assert "WARNING" in done.stderr and "stuck" in done.stderr  # which tool, and why


async def test_cancelling_invoke_cancels_the_tool() -> None:
    running = asyncio.Event()
    cancelled = asyncio.Event()

    @function_tool
    async def long_job() -> str:
        """Runs until cancelled."""
        running.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    task = asyncio.ensure_future(long_job.invoke("{}"))
    async with asyncio.timeout(2):
        await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


def test_unknown_tool() -> None:
    result = unknown_tool("get_wether", ["book_table", "get_weather"])
    message = explained(result, "unknown_tool")
    assert "'get_wether'" in message
    assert "book_table, get_weather" in message
    assert "none" in explained(unknown_tool("x", []), "unknown_tool")
