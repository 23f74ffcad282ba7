"""Tool arguments the scripted model fills from the tool's JSON schema and the user's words.

A real model reads "a table for 8 at 20:00" as ``{"people": 8, "time": "20:00"}``; the
simulator's stand-in must come close enough that a demo reads like a conversation and a
tool gets values of the types its schema declares. The rules, in the order a property
is served:

- an ``enum``: the first value the user said, else the first value;
- a boolean: true, unless a negation ("not", "no", "don't", "without") stands just
  before the property's name;
- a string about time (its name or description says time, when, hour): a time said as
  ``20:00``, ``7pm`` or ``at seven``, as ``HH:MM``; a bare hour after "at" (1 to 11) is
  read as the evening, the demo's restaurant setting;
- a string about a place (city, place, location, where, destination, town, country):
  the words after "in", "for", "at", "near", "to" or "from" up to a word that is no
  place's ("please", "today", ...), title-cased; else a capitalised word not at the start;
- an integer or number: the next number said (digits or "one" to "twenty") that no
  time took, clamped to the schema's bounds; else the minimum, else 1;
- any other string: the user's words (at most 60 characters).

Only required properties are filled (all of them when the schema lists none). What no
rule finds falls back to a value of the declared type, so the arguments always validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NUMBERS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty",
]  # fmt: skip
NUMBER_WORDS = {word: value for value, word in enumerate(_NUMBERS)}
TIME_HINTS = ("time", "when", "hour")
PLACE_HINTS = ("city", "place", "location", "where", "destination", "town", "country")
PLACE_LEADS = {"in", "for", "at", "near", "to", "from"}
NOT_PLACE = {
    "please", "today", "tomorrow", "tonight", "now", "right", "this", "next", "and", "then",
    "at", "for", "on", "is", "it", "the", "a", "an", "me", "us", "my", "our", "weather",
}  # fmt: skip
NEGATIONS = {"not", "no", "don't", "dont", "without", "never"}
MAX_FREE_TEXT = 60

_CLOCK = re.compile(r"\b(\d{1,2})[:h.](\d{2})\b")
_MERIDIEM = re.compile(r"\b(\d{1,2}|[a-z]+)\s*(am|pm|a\.m\.|p\.m\.)(?![a-z])", re.IGNORECASE)
_AT_HOUR = re.compile(r"\bat\s+(\d{1,2}|[a-z]+)\b(?!\s*[:h.]\d)", re.IGNORECASE)
_TOKEN = re.compile(r"[\w']+")


def fill_arguments(tool: Mapping[str, Any], words: str) -> str:
    """The JSON arguments of a call of ``tool`` (a session tool dict) for ``words``."""
    params: Mapping[str, Any] = tool.get("parameters") or {}
    props: Mapping[str, Any] = params.get("properties") or {}
    required = list(params.get("required") or props)
    said = _Said.read(words)
    out: dict[str, Any] = {}
    for name in required:
        out[name] = said.value_for(name, props.get(name) or {})
    return json.dumps(out)


def _hour_of(token: str) -> int | None:
    if token.isdecimal():
        return int(token)
    return NUMBER_WORDS.get(token.lower())


@dataclass
class _Said:
    """What the user's words contain, each part taken once."""

    words: str
    tokens: list[str]
    times: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    @classmethod
    def read(cls, words: str) -> _Said:
        said = cls(words, _TOKEN.findall(words))
        spans: list[tuple[int, int]] = []
        for match in _CLOCK.finditer(words):
            hour, minute = int(match[1]), int(match[2])
            if hour < 24 and minute < 60:
                said.times.append(f"{hour:02d}:{minute:02d}")
                spans.append(match.span())
        for match in _MERIDIEM.finditer(words):
            said_hour = _hour_of(match[1])
            if said_hour is not None and 1 <= said_hour <= 12 and not _inside(match.span(), spans):
                pm = match[2].lower().startswith("p")
                said.times.append(f"{said_hour % 12 + (12 if pm else 0):02d}:00")
                spans.append(match.span())
        for match in _AT_HOUR.finditer(words):
            at_hour = _hour_of(match[1])
            if at_hour is not None and 1 <= at_hour <= 23 and not _inside(match.span(), spans):
                said.times.append(f"{at_hour + 12 if at_hour < 12 else at_hour:02d}:00")
                spans.append(match.span())
        rest = "".join(" " if _inside((i, i + 1), spans) else c for i, c in enumerate(words))
        for token in _TOKEN.findall(rest):
            value = _hour_of(token) if not token.isdecimal() else int(token)
            if value is not None:
                said.numbers.append(value)
        return said

    def value_for(self, name: str, schema: Mapping[str, Any]) -> Any:
        kind = schema.get("type", "string")
        about = f"{name} {schema.get('description', '')}".lower()
        if schema.get("enum"):
            return self._enum(list(schema["enum"]))
        if kind == "boolean":
            return not self._negated(name)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "array":
            return []
        if kind == "object":
            return {}
        if any(hint in about for hint in TIME_HINTS) and self.times:
            return self.times.pop(0)
        if any(hint in about for hint in PLACE_HINTS):
            place = self._place()
            if place:
                return place
        return self.words.strip()[:MAX_FREE_TEXT] or name

    def _enum(self, values: list[Any]) -> Any:
        lowered = self.words.lower()
        return next((v for v in values if str(v).lower() in lowered), values[0])

    def _negated(self, name: str) -> bool:
        lowered = [t.lower() for t in self.tokens]
        parts = {p for p in re.split(r"[_\W]+", name.lower()) if p}
        for i, token in enumerate(lowered):
            if token in parts and NEGATIONS & set(lowered[max(0, i - 3) : i]):
                return True
        return False

    def _number(self, schema: Mapping[str, Any], *, integer: bool) -> int | float:
        low, high = schema.get("minimum"), schema.get("maximum")
        value: float = self.numbers.pop(0) if self.numbers else (low if low is not None else 1)
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return int(value) if integer else value

    def _place(self) -> str | None:
        lowered = [t.lower() for t in self.tokens]
        for i, token in enumerate(lowered):
            if token not in PLACE_LEADS:
                continue
            phrase: list[str] = []
            for word in self.tokens[i + 1 :]:
                if word.lower() in NOT_PLACE or _hour_of(word) is not None:
                    break
                phrase.append(word)
            if phrase:
                return " ".join(w[:1].upper() + w[1:] for w in phrase)
        capitals = [t for t in self.tokens[1:] if t[:1].isupper()]
        return capitals[0] if capitals else None


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in spans)
