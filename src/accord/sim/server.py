"""The simulator's websocket server: paths, keys, models, session expiry.

Serves ``ws://HOST:PORT/v1/realtime?model=NAME`` (the path the official SDK opens with
``websocket_base_url``) and the Azure GA path ``/openai/v1/realtime``; each connection
gets its own :class:`SimSession` and store. Connection-level behaviour follows
docs/protocol-notes.md ("Transport"): a bad key upgrades, gets ``invalid_api_key`` and
a close with 3000; an unknown model closes with 4000; the 60-minute limit closes with
1001 and the real reason. Keys are compared, never logged or stored in events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from accord.protocol import encode
from accord.redact import SERVER_WS_LOGGER
from accord.sim.config import SimConfig
from accord.sim.errors import ServerError
from accord.sim.events import EventIds, error_event, wire_item
from accord.sim.model import Model, RuleBasedModel
from accord.sim.session import SimSession

log = logging.getLogger("accord.sim")

CLOSE_BAD_KEY = 3000
CLOSE_BAD_MODEL = 4000
EXPIRED_REASON = "Your session hit the maximum duration of 60 minutes."  # observed
EXPIRY_DRAIN_SECONDS = 1.0  # at expiry, queued events get this long to go out


def expired_reason(seconds: float) -> str:
    """The close reason for a cap of ``seconds``: the observed string for 60 minutes, the
    same sentence naming the configured duration otherwise (so a short test cap does not
    claim an hour)."""
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"Your session hit the maximum duration of {minutes} minute{'s' * (minutes != 1)}."
    return f"Your session hit the maximum duration of {seconds:g} seconds."


@dataclass(frozen=True, slots=True)
class Access:
    """What a connection asked for, read from its handshake."""

    path: str
    model: str | None
    key: str | None
    beta_header: bool


def read_access(request: Request) -> Access:
    parts = urlsplit(request.path)
    query = parse_qs(parts.query)
    names = query.get("model") or query.get("deployment") or []
    model = names[0] if names else None
    return Access(
        parts.path.rstrip("/"),
        model,
        _key(request.headers),
        request.headers.get("OpenAI-Beta", "").startswith("realtime"),
    )


def _key(headers: Headers) -> str | None:
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if "api-key" in headers:
        return headers["api-key"].strip()
    for proto in headers.get_all("Sec-WebSocket-Protocol"):
        for raw in proto.split(","):
            token = raw.strip()
            if token.startswith("openai-insecure-api-key."):
                return token.removeprefix("openai-insecure-api-key.")
    return None


@dataclass
class SimServer:
    """Many concurrent sessions on one event loop, each with its own store."""

    config: SimConfig = field(default_factory=SimConfig)
    model_factory: Callable[[], Model] = RuleBasedModel
    # Open sessions and closed ones kept for SimConfig.closed_session_keep_s.
    sessions: list[SimSession] = field(default_factory=list)
    on_session: Callable[[SimSession], None] | None = None
    _server: Server | None = None
    _ids: EventIds = field(init=False)
    _opened: int = 0  # sessions ever opened: each one's id stream
    _closed_at: dict[str, float] = field(default_factory=dict)  # session id -> monotonic

    def __post_init__(self) -> None:
        # Session ids from their own stream (stream -1: no session's), seeded like them.
        self._ids = EventIds(self.config.seed, stream=-1)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """The base of the Realtime endpoint (the dialect's first path); add ``?model=NAME``
        (Azure: ``?api-version=V&deployment=NAME``)."""
        return f"ws://{self.config.host}:{self.port}{self.config.profile.paths[0]}"

    @property
    def base_url(self) -> str:
        """What the official SDK takes as ``websocket_base_url``."""
        return self.url.removesuffix("/realtime")

    async def start(self) -> SimServer:
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._check_path,
            max_size=self.config.max_event_bytes * 2,
            ping_interval=20,  # the real server pings about every 20 s
            logger=SERVER_WS_LOGGER,  # handshake headers logged without the key
        )
        return self

    async def stop(self) -> None:
        for session in self.sessions:
            try:
                await session.shutdown()
            except Exception:
                log.exception("simulator: shutting a session down failed")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def conversations(self) -> dict[str, list[dict[str, Any]]]:
        """Every session's conversation, by session id in the order they opened: its
        items as the server reports them (``conversation.item.retrieved``'s dicts:
        ``type``, ``id``, ``role`` and ``content``, ``call_id``, ``output``...).

        For tests that judge what a server holds across processes (a resumed session's
        store beside the crashed one's). Closed sessions are included for
        ``SimConfig.closed_session_keep_s`` after they closed (and at most
        ``closed_sessions_kept`` of them); then they are forgotten."""
        self._forget_closed()
        return {
            session.session_id: [
                wire_item(item).model_dump(mode="json", exclude_none=True)
                for item in session.store.items()
            ]
            for session in self.sessions
        }

    def _forget_closed(self) -> None:
        if not self._closed_at:
            return
        now = time.monotonic()
        keep = self.config.closed_session_keep_s
        closed = sorted(self._closed_at.items(), key=lambda pair: pair[1])
        excess = max(0, len(closed) - self.config.closed_sessions_kept)
        gone = {sid for n, (sid, at) in enumerate(closed) if n < excess or now - at > keep}
        if gone:
            self.sessions = [s for s in self.sessions if s.session_id not in gone]
            for sid in gone:
                del self._closed_at[sid]

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # -- connections --------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        paths = self.config.profile.paths
        if read_access(request).path not in paths:
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not found: use {paths[0]}\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        access = read_access(connection.request)  # type: ignore[arg-type]
        ids = EventIds(self.config.seed)
        if self.config.require_key is not None and not (
            access.key and hmac.compare_digest(access.key, self.config.require_key)
        ):
            # Observed: a bad key upgrades, sends invalid_api_key, closes with 3000.
            shown = _redact(access.key)
            await connection.send(
                encode(
                    error_event(
                        ids,
                        ServerError(
                            "invalid_api_key",
                            f"Incorrect API key provided: {shown}. You can find your "
                            "API key at https://platform.openai.com/account/api-keys.",
                            None,
                            None,
                        ),
                    )
                )
            )
            await connection.close(CLOSE_BAD_KEY, "invalid_api_key")
            log.info(
                "connection from %s refused: invalid_api_key (key %s)", _peer(connection), shown
            )
            return
        if not self.config.model_known(access.model):
            await connection.close(CLOSE_BAD_MODEL, "invalid_model")  # observed: 4000
            log.info(
                "connection from %s refused: unknown model %r", _peer(connection), access.model
            )
            return
        if access.beta_header:
            # Observed: the beta header is refused on the GA endpoint (payload assumed).
            await connection.send(
                encode(
                    error_event(
                        ids,
                        ServerError(
                            "invalid_request_error",
                            "The OpenAI-Beta: realtime=v1 header is not supported "
                            "on the GA Realtime API; remove it.",
                            None,
                            None,
                        ),
                    )
                )
            )
            await connection.close(1008, "beta header refused")
            return
        await self._run_session(connection, access)

    async def _run_session(self, connection: ServerConnection, access: Access) -> None:
        loop = asyncio.get_running_loop()

        async def close(code: int, reason: str) -> None:
            await connection.close(code, reason)

        session = SimSession(
            config=self.config,
            model=self.model_factory(),
            model_name=_model_name(self.config, access.model),
            send=connection.send,
            close=close,
            session_id=self._ids.next("sess"),
            loop_time=loop.time,
            index=self._opened,
        )
        self._opened += 1
        self._forget_closed()
        self.sessions.append(session)
        if self.on_session is not None:
            self.on_session(session)
        session.start()
        log.info(
            "session %s connected from %s (model %s)",
            session.session_id,
            _peer(connection),
            _model_name(self.config, access.model),
        )
        expiry = loop.create_task(self._expire(session, connection))
        try:
            async for frame in connection:
                session.receive(frame)
        except ConnectionClosed:
            pass
        finally:
            expiry.cancel()
            self._closed_at[session.session_id] = time.monotonic()
            await session.shutdown()
            log.info(
                "session %s closed (code %s%s)",
                session.session_id,
                connection.close_code,
                f", {connection.close_reason}" if connection.close_reason else "",
            )

    async def _expire(self, session: SimSession, connection: ServerConnection) -> None:
        cap = self.config.session_max_seconds  # the session's own cap, named when it ends
        await asyncio.sleep(cap)
        reason = expired_reason(cap)
        if self.config.beta_expiry:
            # Beta sent an error with code session_expired before closing. It goes through
            # the downstream channel, behind the events already queued (it overtook them).
            session.emit(
                error_event(session.ids, ServerError("session_expired", reason, None, None))
            )
        # The limit is hard: what is queued may go out, but a held or endlessly fed
        # channel does not keep the session alive.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.outbox.drain(), EXPIRY_DRAIN_SECONDS)
        await connection.close(1001, reason)


def _model_name(config: SimConfig, asked: str | None) -> str:
    """The model the session reports. An Azure deployment is named by its owner; which
    model it runs is unknown here, so a name that is no model's reports gpt-realtime (the
    recorded Azure session did, assumed for every deployment)."""
    if asked and (not config.profile.any_deployment or config.model_known_openai(asked)):
        return asked
    return "gpt-realtime"


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "(unknown)"


def _redact(key: str | None) -> str:
    """Only the last four characters of a key are ever shown (as the real server does)."""
    if not key:
        return "(none)"
    return "*" * 8 + key[-4:] if len(key) > 8 else "*" * len(key)
