"""What ``RealtimeSession.connect`` (and ``resume``) return: await it, or ``async with``."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, Generic, Protocol, TypeVar


class Opening(Protocol):
    def _open(self) -> Coroutine[Any, Any, Any]: ...
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=Opening)


class Connecting(Generic[S]):
    """``await`` opens the session and returns it; ``async with`` also closes it."""

    def __init__(self, session: S) -> None:
        self.session = session

    def __await__(self) -> Generator[Any, None, S]:
        yield from self.session._open().__await__()
        return self.session

    async def __aenter__(self) -> S:
        await self.session._open()
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        await self.session.aclose()
