"""The scripted model fills a tool's arguments from its JSON schema and the user's words,
so the demo reads like a conversation: numbers, times and places that were said."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.demo.scenario import book_table, get_weather
from accord.sim.arguments import fill_arguments


def _tool(
    name: str, properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"type": "object", "properties": properties}
    if required is not None:
        params["required"] = required
    return {"type": "function", "name": name, "parameters": params}


def _fill(tool: dict[str, Any], words: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(fill_arguments(tool, words))
    return out


@pytest.mark.parametrize(
    ("words", "people", "time"),
    [
        ("please book a table for 8 at 20:00", 8, "20:00"),
        ("a table for two at 7pm please", 2, "19:00"),
        ("book us a table at 9:30 for 4 people", 4, "09:30"),
        ("my friends arrive at seven, book for six", 6, "19:00"),
    ],
)
def test_the_demo_booking_gets_what_the_user_said(words: str, people: int, time: str) -> None:
    args = _fill(book_table.schema, words)
    assert args == {"people": people, "time": time}


@pytest.mark.parametrize(
    ("words", "city"),
    [
        ("what is the weather in Oslo?", "Oslo"),
        ("weather for new york please", "New York"),
        ("Is it raining in Kyoto today", "Kyoto"),
        ("how is the weather in Porto", "Porto"),
    ],
)
def test_a_place_is_the_place_the_user_named(words: str, city: str) -> None:
    assert _fill(get_weather.schema, words) == {"city": city}


def test_enums_booleans_and_defaults_follow_the_schema() -> None:
    tool = _tool(
        "set_units",
        {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "loud": {"type": "boolean"},
            "note": {"type": "string", "description": "free text"},
        },
        required=["unit", "loud"],
    )
    assert _fill(tool, "switch to fahrenheit, not so loud") == {"unit": "fahrenheit", "loud": False}
    assert _fill(tool, "units please") == {"unit": "celsius", "loud": True}


def test_a_number_with_bounds_stays_inside_them() -> None:
    tool = _tool("pick", {"n": {"type": "integer", "minimum": 1, "maximum": 5}})
    assert _fill(tool, "pick 40") == {"n": 5}
    assert _fill(tool, "pick one") == {"n": 1}
    assert _fill(tool, "pick") == {"n": 1}


@given(st.text(max_size=80))
def test_any_words_give_arguments_that_match_the_schema_types(words: str) -> None:
    args = _fill(book_table.schema, words)
    assert isinstance(args["people"], int) and not isinstance(args["people"], bool)
    assert isinstance(args["time"], str) and args["time"]
    city = _fill(get_weather.schema, words)["city"]
    assert isinstance(city, str) and city
