"""accord for LiveKit Agents: a drop-in ``RealtimeModel``.

::

    from accord.integrations.livekit import RealtimeModel   # was: livekit.plugins.openai.realtime

    session = AgentSession(llm=RealtimeModel(voice="marin"))

Needs the ``livekit`` extra (``pip install "accord[livekit]"``). The model and session
implement ``livekit.agents.llm.RealtimeModel`` / ``RealtimeSession``; every context
LiveKit pushes goes through accord's three-way merge, with a base the adapter derives
from what LiveKit had observed (:mod:`.observed`), and the result flows back into the
context LiveKit pushed (:mod:`.sync`).
"""

from __future__ import annotations

try:
    import livekit.agents
    import livekit.plugins.openai  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'accord.integrations.livekit needs LiveKit Agents: pip install "accord[livekit]"'
    ) from exc

from accord.integrations.livekit.convert import from_livekit, to_livekit
from accord.integrations.livekit.model import RealtimeModel
from accord.integrations.livekit.observed import Observations
from accord.integrations.livekit.session import RealtimeSession, UnsupportedInputError

__all__ = [
    "Observations",
    "RealtimeModel",
    "RealtimeSession",
    "UnsupportedInputError",
    "from_livekit",
    "to_livekit",
]
