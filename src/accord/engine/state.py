"""What the engine's handlers may touch of the engine: one structural type, no import back.

:mod:`accord.engine.inbound` (one handler per server input) and
:mod:`accord.engine.reconnect` (the drop and the restore) work on the engine's state and
call a few of its steps. They used to name :class:`~accord.engine.engine.SyncEngine`
itself, which imports both of them: an import circle inside the package. They name this
:class:`EngineState` instead, which :class:`SyncEngine` satisfies, so the arrows run one
way (engine -> inbound, reconnect -> state) and a handler's reach is written down.
"""

from __future__ import annotations

from typing import Any, Protocol

from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.eviction import Doubts
from accord.engine.ledger import Ledger, Op, OpKind
from accord.engine.mirror import Mirror
from accord.engine.responses import Responses
from accord.items import FunctionCallOutput, Item
from accord.provenance import DeleteReason


class EngineState(Protocol):
    """The engine's state and the steps the handlers call on it."""

    mirror: Mirror
    ledger: Ledger
    responses: Responses
    audio_seen: dict[str, tuple[str, int | None]]
    heard: dict[str, int]
    calls_ready: set[str]
    connected: bool
    doubts: Doubts

    @property
    def config(self) -> EngineConfig: ...

    def resolve(
        self,
        op: Op | None,
        status: ev.Resolution,
        code: str | None = None,
        message: str | None = None,
        *,
        answered_by: str | None = None,
    ) -> list[ev.Effect]: ...

    def plan(
        self,
        kind: OpKind,
        now: float,
        *,
        event_id: str | None = None,
        push_id: str | None = None,
        item: Item | None = None,
        item_id: str | None = None,
        after: str | None = None,
        replaces: str | None = None,
        reason: DeleteReason | None = None,
        partner_of: str | None = None,
        played_ms: int | None = None,
        audio_end_ms: int | None = None,
        response: ev.CreateResponse | None = None,
        server_vad: bool | None = None,
        fields: dict[str, Any] | None = None,
        answers: tuple[str, ...] = (),
    ) -> Op: ...

    def flush(self, now: float) -> list[ev.Effect]: ...
    def doubt_cut(self, now: float, oldest: bool = False) -> None: ...
    def follow_up_if_due(self, response_id: str, now: float) -> None: ...
    def follow_up_after_restore(self, now: float) -> None: ...
    def fail_outputs_of(self, call_id: str) -> list[ev.Effect]: ...
    def output_landed(self, event_id: str, output: FunctionCallOutput, now: float) -> None: ...
    def output_refused(self, op: Op, code: str | None, message: str) -> list[ev.Effect]: ...
    def remember_audio(self, item: Item) -> None: ...
