"""The shared pieces of the store's tests (no tests here): item builders, a store holding
given items, and the two outcomes a test expects (added, or refused as the server does).
"""

from __future__ import annotations

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.errors import INVALID_REQUEST, ServerError
from accord.sim.store import (
    Added,
    ConversationStore,
    StoreConfig,
)


def msg(item_id: str, text: str = "hello", role: str = "user") -> Message:
    return Message(id=item_id, role=role, content=text)  # type: ignore[arg-type]


def spoken(item_id: str, ms: int | None = 1000, text: str = "said this") -> Message:
    """An assistant audio message with ``ms`` of audio and its transcript."""
    return Message(id=item_id, role="assistant", content=text, audio=True, audio_ms=ms)


def call(item_id: str, call_id: str = "call_1") -> FunctionCall:
    return FunctionCall(id=item_id, call_id=call_id, name="lookup", arguments="{}")


def output(item_id: str, call_id: str = "call_1") -> FunctionCallOutput:
    return FunctionCallOutput(id=item_id, call_id=call_id, output="42")


def store_with(*items: Item, config: StoreConfig | None = None) -> ConversationStore:
    """A store holding ``items`` in order, each appended by a client create."""
    store = ConversationStore(config or StoreConfig())
    for item in items:
        assert isinstance(store.create(item), Added)
    return store


def added(outcome: object) -> Added:
    assert isinstance(outcome, Added), outcome
    return outcome


def refused(outcome: object) -> ServerError:
    assert isinstance(outcome, ServerError), outcome
    assert outcome.type == INVALID_REQUEST
    return outcome
