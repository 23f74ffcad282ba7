"""Test seams.

``ACCORD_RULES_OFF=presence,pairs`` switches those engine rules off for every Pair the
tests build: the anti-toy test runs the race tests that way in a subprocess and expects
them to fail. ``traces``: a demo and a naive trace recorded once per run, for the
timeline's tests.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from accord.verify import harness

_off = [name for name in os.environ.get("ACCORD_RULES_OFF", "").split(",") if name]
if _off:
    harness.DEFAULT_RULES = dataclasses.replace(harness.DEFAULT_RULES, **dict.fromkeys(_off, False))


@pytest.fixture(scope="session")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo trace and a naive trace recorded once per run (the timeline's tests)."""
    from timeline_support import demo_traces

    return demo_traces(tmp_path_factory.mktemp("traces"))
