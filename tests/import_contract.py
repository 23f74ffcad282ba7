"""The import contract of the package, as functions a test (or a person) can run on any
copy of the source tree (no tests here; :mod:`test_import_contract` runs them).

Two rules, from ``docs/architecture.md`` ("Layers"):

1. The runtime (what an application imports: ``accord`` itself, the session, the agent,
   the engine, the client, the protocol, items, tools, policies, the integrations)
   never imports the verifier, the explorer, the stress runner, the benchmarks, the
   timeline page, the simulator, the demo or the CLI. Checked twice: statically over every import
   statement of every runtime file (lazy ones inside functions and ``TYPE_CHECKING``
   blocks included), and by importing every runtime module in a fresh interpreter and
   reading ``sys.modules`` (which also catches an import hidden behind importlib).
2. No circles between the package's parts (its top-level modules and subpackages):
   every part can be read, and tested, from the ground up.

Run by hand: ``python tests/import_contract.py`` from the repository root.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "accord"
RUNTIME = (
    "__init__",
    "agent",
    "client",
    "diff",
    "engine",
    "errors",
    "ids",
    "integrations",
    "items",
    "journal",
    "policies",
    "protocol",
    "provenance",
    "redact",
    "session",
    "telemetry",
    "tools",
)
NEVER_FROM_RUNTIME = ("bench", "cli", "demo", "explore", "sim", "stress", "timeline", "verify")
# Modules that need an optional extra; imported when it is installed.
OPTIONAL = {
    "accord.integrations.livekit": "livekit.agents",
    "accord.telemetry.otel": "opentelemetry.trace",
}


def default_root() -> Path:
    """The ``src`` folder of this checkout."""
    return Path(__file__).resolve().parent.parent / "src"


def part_of(module: str) -> str:
    """The part a module belongs to: ``accord.client.core`` -> ``client``;
    ``accord`` itself -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """Every module of the package under ``root``, by dotted name."""
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imports_of(module: str, path: Path) -> set[str]:
    """Every ``accord`` module a file imports, wherever the statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def static_violations(root: Path) -> list[str]:
    """Runtime files that import a part the runtime must never load."""
    found: list[str] = []
    for module, path in modules(root):
        if part_of(module) not in RUNTIME:
            continue
        for target in sorted(imports_of(module, path)):
            if target != PACKAGE and part_of(target) in NEVER_FROM_RUNTIME:
                found.append(f"{module} imports {target}")
    return found


def part_graph(root: Path) -> dict[str, set[str]]:
    """Which part imports which (a part's imports of itself left out)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules(root):
        mine = part_of(module)
        edges = graph.setdefault(mine, set())
        for target in imports_of(module, path):
            # ``from accord import x`` names the package; the part is what it takes.
            other = part_of(target)
            if target != PACKAGE and other != mine:
                edges.add(other)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles of ``graph``: each strongly connected set of two or more parts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


_LOADED = """
import importlib, importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m == "accord" or m.startswith("accord."))))
"""


def runtime_modules(root: Path) -> list[str]:
    """Every runtime module under ``root`` that can be imported here (an optional
    integration only with its extra installed)."""
    names: list[str] = []
    for module, _path in modules(root):
        if part_of(module) not in RUNTIME:
            continue
        needs = next((dep for prefix, dep in OPTIONAL.items() if module.startswith(prefix)), None)
        if needs is not None and not _importable(needs):
            continue
        names.append(module)
    return names


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def loaded_violations(root: Path, names: list[str] | None = None) -> list[str]:
    """Modules of forbidden parts that importing ``names`` (default: every runtime
    module) loads, in a fresh interpreter that takes the package from ``root``."""
    names = runtime_modules(root) if names is None else names
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, str(root), json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        return [f"importing the runtime failed: {result.stderr.strip()[-2000:]}"]
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return [m for m in loaded if m != PACKAGE and part_of(m) in NEVER_FROM_RUNTIME]


def main() -> int:
    """Print every breach of the contract; exit 1 when there is one."""
    root = default_root()
    problems = [
        *static_violations(root),
        *(f"loaded by the runtime: {m}" for m in loaded_violations(root)),
        *(f"circle: {' -> '.join(c)}" for c in cycles(part_graph(root))),
    ]
    for problem in problems:
        print(problem)
    print(f"import contract: {len(problems)} breach(es)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
