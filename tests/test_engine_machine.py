"""The engine + store state machine: accord passes; the naive strategy is caught."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from machine import machine_for

FAST = settings(
    max_examples=2000,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_accord_keeps_every_invariant() -> None:
    run_state_machine_as_test(machine_for("accord"), settings=FAST)


def test_naive_strategy_is_caught() -> None:
    caught = settings(FAST, max_examples=300, derandomize=True, database=None)
    with pytest.raises(AssertionError, match=r"invariant \d \((NO_LOST_ITEM|CONVERGENCE)"):
        run_state_machine_as_test(machine_for("naive"), settings=caught)
