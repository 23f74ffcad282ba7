"""No two modules of accord import each other, directly or around a loop.

``tests/test_import_contract.py`` keeps the parts (engine, client, verify, ...) in one
direction; this keeps the modules inside each part so too, counting every import
statement, those under ``TYPE_CHECKING`` and inside functions included: a loop there is
what made ``client/core.py`` and ``client/inbound.py``, the engine and its handlers, and
the LiveKit session and its model each hard to read alone. A handler names what it
needs of its owner with a ``Protocol`` instead (``engine/state.py``). Package
``__init__`` modules only hand names on and are left out, as a structure drawing does.
"""

from __future__ import annotations

import ast
from pathlib import Path

from import_contract import cycles

SRC = Path(__file__).resolve().parent.parent / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    packages = {_module_name(p) for p in SRC.rglob("__init__.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name in packages:
            continue
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t not in packages and t != name}
    return graph


def test_no_module_import_cycle() -> None:
    assert cycles(_graph()) == []


def test_a_planted_cycle_is_found() -> None:
    graph = _graph()
    graph["accord.engine.ledger"] = graph["accord.engine.ledger"] | {"accord.engine.engine"}
    assert any({"accord.engine.engine", "accord.engine.ledger"} <= set(c) for c in cycles(graph))
