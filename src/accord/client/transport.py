"""The one seam between a session and the network: send text, receive frames, close.

httpcore's lesson: a small transport interface, the real implementation beside it, and
exceptions mapped once at the boundary. Everything above sees :class:`ConnectionLost`
(with the close code and whether reconnecting makes sense), never a websockets error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from accord.errors import ConnectionLost
from accord.redact import CLIENT_WS_LOGGER

OPENAI_URL = "wss://api.openai.com/v1/realtime"
FINAL_CLOSE_CODES = {3000: "invalid API key", 4000: "invalid model"}  # observed
MAX_FRAME_BYTES = 16 * 1024 * 1024


class Transport(Protocol):
    async def send(self, text: str) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and with which headers. ``repr`` never shows a key."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def openai(cls, model: str, api_key: str | None, base_url: str = OPENAI_URL) -> Endpoint:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return cls(_with_model(base_url, "model", model), headers)

    @classmethod
    def azure(
        cls,
        resource_url: str,
        deployment: str,
        api_key: str | None,
        api_version: str | None = None,
    ) -> Endpoint:
        """Azure OpenAI's GA path (``/openai/v1/realtime?model=<deployment>``, header
        ``api-key``); ``resource_url`` is ``wss://<resource>.openai.azure.com``. With
        ``api_version`` the query also carries ``api-version=...``, as deployments
        reached through a dated API version expect (the events are the GA ones)."""
        base = resource_url.rstrip("/")
        if not base.endswith("/openai/v1/realtime"):
            base += "/openai/v1/realtime"
        url = _with_model(base, "model", deployment)
        if api_version is not None:
            url = _with_model(url, "api-version", api_version)
        return cls(url, {"api-key": api_key} if api_key else {})

    @classmethod
    def choose(
        cls,
        url: str | None,
        api_key: str | None,
        model: str,
        azure_deployment: str | None = None,
        azure_api_version: str | None = None,
    ) -> Endpoint:
        """What ``RealtimeSession.connect`` connects to: OpenAI (the default), Azure
        OpenAI (a deployment, with the resource URL) or any compatible ``url``. The key
        defaults to ``OPENAI_API_KEY`` (``AZURE_OPENAI_API_KEY``) when not given."""
        if azure_deployment is not None:
            if url is None:
                raise ValueError(
                    "Azure OpenAI needs the resource URL (wss://<res>.openai.azure.com)"
                )
            key = api_key or os.environ.get("AZURE_OPENAI_API_KEY")
            return cls.azure(url, azure_deployment, key, azure_api_version)
        key = api_key if api_key is not None or url else os.environ.get("OPENAI_API_KEY")
        return cls.openai(model, key, url) if url else cls.openai(model, key)


def _with_model(url: str, key: str, value: str) -> str:
    if f"{key}=" in url:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode({key: value})}"


class WebSocketTransport:
    """:class:`Transport` over the ``websockets`` client."""

    def __init__(self, connection: ClientConnection) -> None:
        self._conn = connection

    @classmethod
    async def open(cls, endpoint: Endpoint, *, open_timeout: float = 10.0) -> WebSocketTransport:
        try:
            conn = await connect(
                endpoint.url,
                additional_headers=endpoint.headers,
                max_size=MAX_FRAME_BYTES,
                open_timeout=open_timeout,
                # No permessage-deflate: audio does not compress, and deflating every
                # small event costs CPU and latency on both sides.
                compression=None,
                logger=CLIENT_WS_LOGGER,  # handshake headers logged without the key
                ping_interval=20,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionLost(f"could not connect: {type(exc).__name__}: {exc}") from exc
        return cls(conn)

    async def send(self, text: str) -> None:
        try:
            await self._conn.send(text)
        except ConnectionClosed as exc:
            raise _lost(exc) from exc

    async def recv(self) -> str | bytes:
        try:
            return await self._conn.recv()
        except ConnectionClosed as exc:
            raise _lost(exc) from exc

    async def close(self) -> None:
        await self._conn.close()


def _lost(exc: ConnectionClosed) -> ConnectionLost:
    close = exc.rcvd
    code = close.code if close is not None else None
    reason = close.reason if close is not None and close.reason else "connection closed"
    final = code in FINAL_CLOSE_CODES
    if final and code is not None:
        reason = f"{reason} ({FINAL_CLOSE_CODES[code]}, close code {code})"
    return ConnectionLost(reason, code=code, final=final)
