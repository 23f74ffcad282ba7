"""The interface every push strategy offers: accord's engine and the naive one.

The session core, the test harness and the demo drive a strategy only through these
methods, which is what lets one test (or one demo run) compare the two. A session is
handed its strategy as a :class:`Strategy` value; the runtime knows only accord's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.engine import SyncEngine
from accord.ids import IdGenerator
from accord.items import ChatContext, Item
from accord.truncation import Truncation


class Client(Protocol):
    """The interface both strategies share."""

    ids: IdGenerator

    def context(self) -> ChatContext: ...
    def mirror_items(self) -> list[Item]: ...
    def is_quiet(self, out_of_band: bool = True) -> bool: ...
    def set_truncation(self, truncation: Truncation) -> None: ...
    def push(
        self, ctx: ChatContext, now: float, *, explicit_replace: bool = False
    ) -> tuple[str, list[ev.Effect]]: ...
    def receive(self, event: ev.ServerInput, now: float) -> list[ev.Effect]: ...
    def generate_reply(
        self,
        now: float,
        *,
        instructions: str | None = None,
        out_of_band: bool = False,
        metadata: dict[str, str] | None = None,
        input_items: tuple[str | Item, ...] = (),
    ) -> tuple[str, list[ev.Effect]]: ...
    def interrupt(
        self, now: float, *, item_id: str | None = None, played_ms: int | None = None
    ) -> list[ev.Effect]: ...
    def tool_started(self, call_id: str, now: float) -> list[ev.Effect]: ...
    def tool_finished(self, call_id: str, output: str, now: float) -> list[ev.Effect]: ...
    def tool_abandoned(
        self, call_id: str, now: float, *, delete: bool = True
    ) -> list[ev.Effect]: ...
    def update_session(
        self, fields: Mapping[str, Any], now: float, *, configuration: bool = False
    ) -> tuple[str, list[ev.Effect]]: ...
    def tick(self, now: float) -> list[ev.Effect]: ...
    def operation_answered(self, error: ev.ServerError) -> ev.Refusal | None: ...
    def retrying(self, event_id: str) -> bool: ...
    def connection_lost(self, now: float) -> list[ev.Effect]: ...
    def connected_again(self, now: float) -> list[ev.Effect]: ...


@dataclass(frozen=True, slots=True)
class Strategy:
    """A push strategy a session is given, not asked for by name.

    The runtime defines only accord's engine (:data:`ACCORD`, every session's default);
    the naive strategy exists to be caught and lives with the verifier
    (``accord.verify.strategies``), so production code cannot select it with a string.
    ``name`` labels traces and reports; ``build`` makes one client from the session's
    engine config and id seed.
    """

    name: str
    build: Callable[[EngineConfig, int | None], Client]


def _accord_engine(config: EngineConfig, seed: int | None) -> Client:
    return SyncEngine(config, seed=seed)


ACCORD = Strategy("accord", _accord_engine)
"""accord's three-way merge engine: the default of every session."""
