"""accord: keep a realtime voice agent's conversation and the model's server in agreement.

The stable names other tools rely on are re-exported here (shared/DESIGN.md, "Stable
entry points").
"""

from accord.diff import ContextDiff, compute_diff
from accord.items import ChatContext, ContextBase, FunctionCall, FunctionCallOutput, Item, Message
from accord.session import RealtimeSession, SessionOptions

__all__ = [
    "ChatContext",
    "ContextBase",
    "ContextDiff",
    "FunctionCall",
    "FunctionCallOutput",
    "Item",
    "Message",
    "RealtimeSession",
    "SessionOptions",
    "compute_diff",
]

__version__ = "0.1.0"
