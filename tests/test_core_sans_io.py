"""The session core says what happened; the asyncio shell (accord.session) owns every waiter.

h11's split: :class:`accord.client.core.SessionCore` and its handlers
(:mod:`accord.client.inbound`) take frames and calls and return frames, events and
effects. A future kept in the core was resolved in three places and hung callers when
one of them missed (the core's own "Fix:" comments record those hangs); these checks keep
asyncio out of the core's modules so the waiters cannot move back in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import accord.client.core as core_module
import accord.client.inbound as inbound_module
from accord.client.core import SessionCore

CORE_MODULES = [core_module, inbound_module]


def _imported(module: object) -> set[str]:
    path = Path(str(getattr(module, "__file__", "")))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_import_no_asyncio() -> None:
    for module in CORE_MODULES:
        assert "asyncio" not in _imported(module), module.__name__


def test_core_keeps_no_waiters() -> None:
    core = SessionCore(seed=0)
    core.generate_reply(0.0)
    core.update_session({"instructions": "be brief"}, 0.0)
    waiters = [name for name in vars(core) if "waiter" in name]
    assert waiters == []
