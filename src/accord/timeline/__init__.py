"""See a session: a recorded trace as one self-contained HTML timeline.

``page(trace, out)`` builds the timeline of a JSONL trace (:mod:`.build`) and writes
its page (:mod:`.render`). A tool, like the verifier: the runtime never imports it.
"""

from __future__ import annotations

from pathlib import Path

from accord.timeline.build import build
from accord.timeline.model import Row, Timeline
from accord.timeline.render import render, write

__all__ = ["Row", "Timeline", "build", "page", "render", "write"]


def page(trace: str | Path, out: str | Path, *, title: str | None = None) -> Path:
    """Write the timeline page of ``trace`` to ``out``; return ``out``."""
    return write(build(trace, title=title), out)
