"""The import contract: the runtime never loads what judges it, and the parts of the
package import each other in one direction only (:mod:`import_contract`).

The contract is only worth something if it fails when broken, so each rule is also run
on a copy of the source tree with a breach planted in it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import import_contract as contract

ROOT = contract.default_root()


def test_the_runtime_imports_nothing_that_judges_it() -> None:
    assert contract.static_violations(ROOT) == []


def test_loading_the_runtime_loads_nothing_that_judges_it() -> None:
    names = contract.runtime_modules(ROOT)
    assert "accord.session" in names and "accord.engine.engine" in names
    assert contract.loaded_violations(ROOT) == []


def test_the_parts_of_the_package_form_no_circle() -> None:
    graph = contract.part_graph(ROOT)
    assert "verify" in graph["explore"] and "verify" in graph["stress"]  # it sees imports
    assert contract.cycles(graph) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the package's source tree to plant breaches in."""
    shutil.copytree(ROOT / "accord", tmp_path / "accord", ignore=shutil.ignore_patterns("*.pyc"))
    return tmp_path


def plant(root: Path, module: str, line: str) -> None:
    path = root / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_planted_top_level_import_is_caught_both_ways(copy: Path) -> None:
    plant(copy, "accord.items", "import accord.verify.checker  # planted")
    assert contract.static_violations(copy) == ["accord.items imports accord.verify.checker"]
    loaded = contract.loaded_violations(copy, ["accord"])  # what `import accord` loads
    assert "accord.verify.checker" in loaded and "accord.sim.store" in loaded


def test_a_planted_lazy_import_is_caught_statically(copy: Path) -> None:
    # Inside a function nothing loads it at import time: only the static rule sees it.
    plant(copy, "accord.engine.merge", "def _later():\n    from accord.sim import store")
    assert contract.static_violations(copy) == [
        "accord.engine.merge imports accord.sim",
        "accord.engine.merge imports accord.sim.store",
    ]
    assert contract.loaded_violations(copy, ["accord", "accord.engine.merge"]) == []


def test_a_planted_circle_is_caught(copy: Path) -> None:
    plant(copy, "accord.items", "from accord import policies  # planted")
    # policies reaches items directly and through tokens: either circle names both.
    found = contract.cycles(contract.part_graph(copy))
    assert any({"items", "policies"} <= set(cycle) for cycle in found), found
