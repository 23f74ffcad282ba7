"""OpenTelemetry spans and metrics of a session, when the ``otel`` extra is installed.

:func:`attach` is the session's one entry point: it returns a
:class:`~accord.telemetry.otel.SessionTelemetry` listening to the session core (its
observers, effects and events) and to the frames the session moves, or ``None`` when
``opentelemetry-api`` cannot be imported, in which case nothing of OpenTelemetry is
imported and the session does no telemetry work at all. Spans and metrics go to
OpenTelemetry's global providers, so an application configures exporters the usual way
(docs/timeline.md shows OTLP).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accord.client.core import SessionCore
    from accord.telemetry.otel import SessionTelemetry


def available() -> bool:
    """True when ``opentelemetry-api`` is installed (the ``accord[otel]`` extra)."""
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except (ModuleNotFoundError, ValueError):
        return False


def attach(core: SessionCore, *, url: str) -> SessionTelemetry | None:
    """Start the session span and listen to ``core``; None without the extra."""
    if not available():
        return None
    from accord.telemetry.otel import SessionTelemetry

    return SessionTelemetry(core, url=url)
