"""The sans-I/O sync engine (docs/architecture.md, "Architecture")."""

from accord.engine.config import EngineConfig
from accord.engine.engine import SyncEngine
from accord.engine.merge import Rules
from accord.engine.scheduler import Capabilities

__all__ = ["Capabilities", "EngineConfig", "Rules", "SyncEngine"]
