"""Keys never reach a log: the websockets loggers accord hands out redact them.

With DEBUG logging on, websockets logs every handshake header, ``Authorization`` and
``api-key`` included. accord's client and simulator pass these loggers instead, whose
filter replaces the value of any credential header (and any ``sk-`` token in a
message) before a record is emitted.
"""

from __future__ import annotations

import logging
import re

SECRET_HEADERS = frozenset(
    {"authorization", "api-key", "sec-websocket-protocol", "openai-insecure-api-key"}
)
_TOKEN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{2})[A-Za-z0-9_\-]+")
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        header = args[0] if isinstance(args, tuple) and len(args) >= 2 else None
        if isinstance(header, str) and header.strip().lower() in SECRET_HEADERS:
            assert isinstance(args, tuple)
            record.args = (header, REDACTED, *args[2:])
        if isinstance(record.msg, str) and "sk-" in record.msg:
            record.msg = _TOKEN.sub(rf"\1{REDACTED}", record.msg)
        return True


def redacting_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
    return logger


CLIENT_WS_LOGGER = redacting_logger("accord.websockets.client")
SERVER_WS_LOGGER = redacting_logger("accord.websockets.server")
