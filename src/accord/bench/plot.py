"""The diff scaling curve as a PNG: both implementations, log-log, and their ratio.

matplotlib is an optional extra (``pip install "accord[plot]"``), imported only when a
plot is asked for, with the Agg backend (no display needed).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.bench.diff_bench import DiffRow

INSTALL_HINT = 'pip install "accord[plot]"'
TARGET_N = 10_000
TARGET_MS = 3.0
TARGET_RATIO = 2.0


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotUnavailableError(f"matplotlib is not installed ({INSTALL_HINT})") from exc
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def plot_scaling(rows: Sequence[DiffRow], path: str | Path, *, subtitle: str = "") -> Path:
    """Write the scaling curve of ``rows`` to ``path`` (PNG); return the path."""
    plt = _pyplot()
    ns = [r.n for r in rows]
    fig, (curve, ratio) = plt.subplots(
        2, 1, figsize=(7, 6.2), dpi=90, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    curve.loglog(ns, [r.accord.best_ms for r in rows], "o-", color="#1f77b4", label="accord")
    compared = [r for r in rows if r.livekit is not None]
    if compared:
        curve.loglog(
            [r.n for r in compared],
            [r.livekit.best_ms for r in compared if r.livekit is not None],
            "s-",
            color="#d62728",
            label="LiveKit Agents compute_chat_ctx_diff",
        )
    curve.plot([TARGET_N], [TARGET_MS], "k*", markersize=11, label="target: 3 ms at n = 10,000")
    curve.set_ylabel("best CPU time (ms)")
    curve.set_title(
        "Context diff: time versus number of items" + (f"\n{subtitle}" if subtitle else "")
    )
    curve.grid(True, which="both", alpha=0.3)
    curve.legend(loc="upper left")
    if compared:
        ratio.semilogx([r.n for r in compared], [r.ratio for r in compared], "o-", color="#2ca02c")
        ratio.axhline(TARGET_RATIO, color="k", linestyle="--", linewidth=1, label="target: 2x")
        ratio.set_ylim(0, max(TARGET_RATIO, *(r.ratio or 0 for r in compared)) * 1.2)
        ratio.legend(loc="best")
    else:
        ratio.text(
            0.5, 0.5, "LiveKit not installed: no ratio", ha="center", transform=ratio.transAxes
        )
    ratio.set_ylabel("LiveKit / accord")
    ratio.set_xlabel("items (n)")
    ratio.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
