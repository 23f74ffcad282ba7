"""The shared journal store: Redis lists, for workers on several machines.

Each key is one Redis list (``RPUSH`` of JSON lines, in one ``MULTI`` per append), under
a prefix so that the journal's keys are found with ``SCAN`` and never collide with an
application's. How durable an acknowledged append is depends on the Redis server's own
persistence (``appendonly yes`` with ``appendfsync everysec`` or ``always``): a killed
worker loses nothing either way, a killed Redis loses what it had not written.

Needs the ``redis`` package (``pip install 'accord[redis]'``), imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.errors import JournalUnavailable
from accord.journal.records import Record, decode, encode
from accord.journal.urls import redact_url

PREFIX = "accord:journal:"
CONNECT_TIMEOUT_S = 5.0  # opening the store fails with JournalUnavailable after this
SOCKET_TIMEOUT_S = 10.0  # an append or load waits this long for Redis


class RedisStore:
    """A :class:`~accord.journal.store.JournalStore` in Redis lists."""

    def __init__(self, client: Any, *, where: str = "redis", prefix: str = PREFIX) -> None:
        self._client = client
        self._where = where
        self.prefix = prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = PREFIX,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        timeout: float = SOCKET_TIMEOUT_S,
    ) -> RedisStore:
        """Connect to ``url`` and check that Redis answers."""
        try:
            import redis
        except ImportError as exc:
            raise JournalUnavailable(
                "a redis:// journal needs the redis package: pip install 'accord[redis]'"
            ) from exc
        where = redact_url(url)
        try:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=connect_timeout, socket_timeout=timeout
            )
            client.ping()
        except (redis.RedisError, ValueError, OSError) as exc:
            raise JournalUnavailable(f"Redis journal {where} is unreachable: {exc}") from exc
        return cls(client, where=where, prefix=prefix)

    def append(self, key: str, records: Sequence[Record]) -> None:
        if not records:
            return
        lines = [encode(record) for record in records]
        self._do(lambda: self._client.rpush(self.prefix + key, *lines))

    def load(self, key: str) -> list[Record]:
        lines = self._do(lambda: self._client.lrange(self.prefix + key, 0, -1))
        return [decode(line) for line in lines]

    def delete(self, key: str) -> None:
        self._do(lambda: self._client.delete(self.prefix + key))

    def keys(self) -> list[str]:
        found = self._do(lambda: list(self._client.scan_iter(match=self.prefix + "*")))
        names = (k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in found)
        return sorted(name.removeprefix(self.prefix) for name in names)

    def close(self) -> None:
        self._do(self._client.close)

    def _do(self, action: Any) -> Any:
        import redis

        try:
            return action()
        except (redis.RedisError, OSError) as exc:
            raise JournalUnavailable(f"Redis journal {self._where}: {exc}") from exc

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r})"
