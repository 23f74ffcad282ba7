"""accord: keep a realtime voice agent's conversation and the model's server in agreement.

The stable names other tools rely on are re-exported here (docs/architecture.md, "Stable
entry points").
"""

from accord.agent import Agent, AgentRunner
from accord.client.events import RolledOver
from accord.diff import ContextDiff, compute_diff
from accord.engine.events import Reconnected, Resumed
from accord.items import (
    ChatContext,
    ContextBase,
    FunctionCall,
    FunctionCallOutput,
    Item,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpItem,
    McpListTools,
    McpTool,
    Message,
)
from accord.session import RealtimeSession, SessionOptions
from accord.tools import FunctionTool, function_tool

__all__ = [
    "Agent",
    "AgentRunner",
    "ChatContext",
    "ContextBase",
    "ContextDiff",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "Item",
    "McpApprovalRequest",
    "McpApprovalResponse",
    "McpCall",
    "McpItem",
    "McpListTools",
    "McpTool",
    "Message",
    "RealtimeSession",
    "Reconnected",
    "Resumed",
    "RolledOver",
    "SessionOptions",
    "compute_diff",
    "function_tool",
]

__version__ = "0.1.0"
