"""Anti-toy: switch off each named engine rule in turn; some test must then fail.

A race test that passes on broken code proves nothing. Each rule of docs/architecture.md is a
switch in :class:`accord.engine.merge.Rules`; with one switched off (through the
``ACCORD_RULES_OFF`` seam in conftest.py), the race tests and the engine-rule tests run in
a subprocess and must fail, and the test says which ones did.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord.engine.merge import Rules

TESTS = Path(__file__).parent
JUDGES = [
    "test_races_early.py",
    "test_races_late.py",
    "test_races_last.py",
    "test_engine_rules.py",
]
RULES = [f.name for f in dataclasses.fields(Rules)]


def test_every_rule_is_covered() -> None:
    assert RULES == [
        "presence",
        "content",
        "order",
        "pairs",
        "in_flight_deferral",
        "acked_anchors",
        "creates_before_deletes",
        "response_slot",
        "follow_up_once",
    ]


@pytest.mark.parametrize("rule", RULES)
def test_switching_a_rule_off_breaks_some_test(rule: str) -> None:
    env = {**os.environ, "ACCORD_RULES_OFF": rule}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "not naive",
            *(str(TESTS / name) for name in JUDGES),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS.parent,
        timeout=300,
        check=False,
    )
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert run.returncode == 1 and failed, f"nothing failed with {rule} off:\n{run.stdout[-800:]}"
