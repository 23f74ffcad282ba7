"""What a journal holds: small frozen records, each one JSON line.

A journal is append-only. Read in order, its records rebuild what a resume needs
(:mod:`accord.journal.state`): the session configuration, the conversation as the
engine projects it (every item acknowledged by the server, and every create still on
its way, each with what a restore must know of it) and the state of each tool call.
Later records supersede earlier ones about the same thing, so a writer only ever
appends what changed (:mod:`accord.journal.writer`).

The encoding is plain JSON with a ``t`` tag per record and a ``type`` tag per item, so
a journal written by one process (or one machine) is read by any other, and a person
can read it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from accord.errors import JournalCorrupt
from accord.item_json import item_fields, item_of
from accord.items import FunctionCall, FunctionCallOutput, Item, Message

FORMAT = 1  # the version of this encoding, written in every Opened record


@dataclass(frozen=True, slots=True)
class Opened:
    """The first record under a key: who wrote it and when (wall clock, seconds)."""

    created_at: float
    format: int = FORMAT


@dataclass(frozen=True, slots=True)
class Config:
    """The session configuration as it stands (instructions, tools, audio...): what a
    resume sends to the new server session."""

    session: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of the projected conversation, placed right after ``after`` (None: first).

    ``pending``: its create was not acknowledged yet (an output produced but not
    delivered, a pushed message on its way). ``partial``: still being generated (a
    restore drops it). ``heard_ms``, ``full_transcript`` and ``full_ms``: what a restore
    needs to cut a truncated assistant turn where the user stopped hearing it. A later
    entry with the same id replaces this one (and moves it, when ``after`` changed)."""

    item: Item
    after: str | None
    pending: bool = False
    partial: bool = False
    heard_ms: int | None = None
    full_transcript: str | None = None
    full_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Removed:
    """The item left the projected conversation (deleted, or its delete is on its way)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The application reported the tool of ``call_id`` running; ``idempotent``: it may
    be run again after a crash (``@function_tool(idempotent=True)``)."""

    call_id: str
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The tool of ``call_id`` produced its output (the output is an :class:`Entry`,
    pending until the server acknowledges it) or was abandoned."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ReplyOwed:
    """Whether the model owes the conversation a reply: an in-band response was asked
    for (or started) and is not done. A resume asks again when the restored
    conversation does not end with the assistant."""

    owed: bool


Record: TypeAlias = Opened | Config | Entry | Removed | CallStarted | CallFinished | ReplyOwed

_TAGS: dict[type[Any], str] = {
    Opened: "opened",
    Config: "config",
    Entry: "entry",
    Removed: "removed",
    CallStarted: "call_started",
    CallFinished: "call_finished",
    ReplyOwed: "reply_owed",
}
_BY_TAG = {tag: cls for cls, tag in _TAGS.items()}
_ITEM_TAGS: dict[type[Any], str] = {  # the first three kept as journals spell them
    Message: "message",
    FunctionCall: "function_call",
    FunctionCallOutput: "function_call_output",
}
_ITEM_BY_TAG = {tag: cls.__name__ for cls, tag in _ITEM_TAGS.items()}


def encode(record: Record) -> str:
    """One record as one line of JSON."""
    body: dict[str, Any] = {"t": _TAGS[type(record)]}
    for name in record.__dataclass_fields__:
        value = getattr(record, name)
        body[name] = _item_to_json(value) if name == "item" else value
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(line: str | bytes) -> Record:
    """A record back from :func:`encode`'s line; :class:`JournalCorrupt` if it is none."""
    try:
        body = json.loads(line)
        cls = _BY_TAG[body.pop("t")]
        if "item" in body:
            body["item"] = _item_from_json(body["item"])
        record: Record = cls(**body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        shown = line[:120] if isinstance(line, str) else line[:120].decode("utf-8", "replace")
        raise JournalCorrupt(f"unreadable journal record {shown!r}: {exc}") from exc
    return record


def _item_to_json(item: Item) -> dict[str, Any]:
    tag = _ITEM_TAGS.get(type(item), type(item).__name__)  # MCP kinds: by class name
    return {"type": tag, **item_fields(item)}


def _item_from_json(body: dict[str, Any]) -> Item:
    fields = dict(body)
    tag = fields.pop("type")
    return item_of(_ITEM_BY_TAG.get(tag, tag), fields)
