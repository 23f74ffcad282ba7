"""The machine a run was measured on, recorded with its results.

Numbers from a shared machine mean little without its load: every report carries the
CPU model, core count, Python version and the load averages when the run started.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source_revision() -> str | None:
    """The git commit of the measured code, marked ``+dirty`` when the tree has
    uncommitted changes (they are measured too); None outside a git checkout."""
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def describe() -> dict[str, Any]:
    """CPU model, cores, Python, platform, the source revision and the 1/5/15-minute
    load averages now."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": load,
        "revision": source_revision(),
    }


def summary(info: dict[str, Any]) -> str:
    load = "/".join(str(x) for x in info.get("load_average", [])) or "?"
    return (
        f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"source {info.get('revision') or '?'}; load average {load} (1/5/15 min) at the start"
    )


def busy_cpu_seconds() -> float | None:
    """CPU time all processes on the machine have used since boot (every state but idle
    and iowait in ``/proc/stat``), to tell how much of a window other work took; None
    off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")
