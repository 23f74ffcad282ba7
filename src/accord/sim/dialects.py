"""Other servers that speak the OpenAI Realtime protocol, as a switch (``SimConfig.dialect``).

Clients meet servers other than OpenAI's that speak its GA protocol with differences of
their own. Under a dialect the simulator keeps its conversation semantics and changes
what it sends (and which paths it serves) the way that server was seen to. Each
difference below names where it was observed; ``tests/test_sim_dialects.py`` holds one
test per difference.

``openai`` (default): the recorded OpenAI GA server (tests/data/real-traces).

``xai`` (Grok voice; three recorded xAI sessions from pydantic-ai's test cassettes, kept
outside the repository, and LiveKit agents issues 5320, 6391 and 7122):

- ``conversation.created`` right after ``session.created``, then a ``ping`` (with a
  millisecond ``timestamp``), and more pings every ``XAI_PING_INTERVAL_S`` (the interval
  is assumed: each recording is shorter than one);
- ``previous_item_id`` on every event: null, but ``"0"`` on ``response.content_part.added``;
- ``conversation.item.added`` of a function call or a function call output says
  ``previous_item_id: null`` mid-conversation;
- no ``conversation.item.done`` at all;
- ``conversation.item.deleted`` with an empty ``item_id`` (LiveKit issues; no recording);
- UUID ids for events, items, responses and the conversation.

Not reproduced (the simulator stays GA-shaped there): xAI's beta-like session object
(``voice``, ``modalities``, top-level ``turn_detection``), ``object: "realtime.item"`` on
items, ``status_details: "unimplemented"`` and ``usage: {}``, a ``role`` on function
calls, its ``call-<uuid>-0`` call ids, and a preamble and a call both at output index 0.

``azure`` (Azure OpenAI's GA endpoint; a recorded Azure tool round from the same
cassettes and its summary, and docs/protocol-notes.md "Connection"):

- served at ``/openai/v1/realtime`` only, with ``?api-version=`` (any value) and the
  deployment as ``deployment=`` or ``model=``; any deployment name is accepted (Azure's
  deployments are named by their owners); the key in an ``api-key`` header;
- no ``rate_limits.updated``;
- ``conversation.item.done`` of every model output item says ``previous_item_id: null``
  (the README's reading; the one recording shows it for the first output item only,
  which OpenAI's server does too, and the id for the other);
- ``response.content_part.added/done`` carry the part twice, as ``part`` and ``content``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["openai", "xai", "azure"]
DIALECTS: tuple[Dialect, ...] = ("openai", "xai", "azure")
XAI_PING_INTERVAL_S = 30.0  # assumed: no recording lasts long enough to show a second ping

OPENAI_PATHS = ("/v1/realtime", "/openai/v1/realtime")
AZURE_PATHS = ("/openai/v1/realtime",)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a dialect changes; every field's default is OpenAI's behaviour."""

    name: Dialect = "openai"
    paths: tuple[str, ...] = OPENAI_PATHS
    any_deployment: bool = False
    model_prefixes: tuple[str, ...] = ()  # model names known besides OpenAI's
    max_id_length: int = 32
    uuid_ids: bool = False
    conversation_created: bool = False
    ping_interval_s: float | None = None
    previous_item_id_everywhere: bool = False
    null_added_previous_for: frozenset[str] = frozenset()
    item_done: bool = True
    empty_deleted_id: bool = False
    rate_limits: bool = True
    null_done_previous_on_output: bool = False
    part_as_content: bool = False

    @property
    def rewrites(self) -> bool:
        """Whether outgoing events need :class:`Respeller` at all (OpenAI's do not)."""
        return self != PROFILES["openai"]


PROFILES: dict[Dialect, Profile] = {
    "openai": Profile(),
    "xai": Profile(
        name="xai",
        paths=("/v1/realtime",),
        model_prefixes=("grok",),
        max_id_length=64,  # assumed (see sim/store.py)
        uuid_ids=True,
        conversation_created=True,
        ping_interval_s=XAI_PING_INTERVAL_S,
        previous_item_id_everywhere=True,
        null_added_previous_for=frozenset({"function_call", "function_call_output"}),
        item_done=False,
        empty_deleted_id=True,
    ),
    "azure": Profile(
        name="azure",
        paths=AZURE_PATHS,
        any_deployment=True,
        rate_limits=False,
        null_done_previous_on_output=True,
        part_as_content=True,
    ),
}


def profile(dialect: Dialect) -> Profile:
    try:
        return PROFILES[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}: use one of {DIALECTS}") from None


class Respeller:
    """Rewrites one session's outgoing events for a dialect; None drops an event.

    Stateful: it remembers which items a response produced (for Azure's null
    ``previous_item_id`` on their ``.done``).
    """

    def __init__(self, prof: Profile) -> None:
        self.profile = prof
        self._model_output: set[str] = set()

    def frame(self, frame: str) -> str | None:
        event = self.event(json.loads(frame))
        return None if event is None else json.dumps(event, separators=(",", ":"))

    def event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        p, kind = self.profile, event.get("type")
        raw = event.get("item")
        item: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if kind == "response.output_item.added":
            self._model_output.add(str(item.get("id")))
        if kind == "rate_limits.updated" and not p.rate_limits:
            return None
        if kind == "conversation.item.done":
            if not p.item_done:
                return None
            if p.null_done_previous_on_output and item.get("id") in self._model_output:
                event["previous_item_id"] = None
        if kind == "conversation.item.added" and item.get("type") in p.null_added_previous_for:
            event["previous_item_id"] = None
        if kind == "conversation.item.deleted" and p.empty_deleted_id:
            event["item_id"] = ""
        if p.part_as_content and "part" in event:
            event["content"] = dict(event["part"])
        if p.previous_item_id_everywhere:
            if kind == "response.content_part.added":
                event["previous_item_id"] = "0"
            else:
                event.setdefault("previous_item_id", None)
        return event
