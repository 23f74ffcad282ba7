"""Test seams.

``ACCORD_RULES_OFF=presence,pairs`` switches those engine rules off for every Pair the
tests build: the anti-toy test runs the race tests that way in a subprocess and expects
them to fail.
"""

from __future__ import annotations

import dataclasses
import os

from accord.verify import harness

_off = [name for name in os.environ.get("ACCORD_RULES_OFF", "").split(",") if name]
if _off:
    harness.DEFAULT_RULES = dataclasses.replace(harness.DEFAULT_RULES, **dict.fromkeys(_off, False))
