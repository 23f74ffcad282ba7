"""The timeline page in a real headless Chromium (Debian's ``chromium`` package).

The pages of a demo trace and of a naive trace are opened from files; every row the
virtualised list can show is collected by scrolling it, and the counts of operations,
events and answers are compared with the trace's (answers: with the engine's own
resolutions, replayed). The naive page must show its violation and its lost call, no
page may log a console error, and screenshots are saved. Skipped, saying so, when
Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from accord.timeline import page
from browser_support import COLLECT_ROWS, browser, chromium
from test_timeline import engine_answers, trace_counts
from timeline_support import long_session

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="Chromium not installed (apt-get install chromium): timeline browser test NOT run",
)


def _open(pages: Path, trace: Path, profile: Path) -> tuple[dict[str, Any], list[str], Path]:
    html = page(trace, pages / f"{trace.stem}.html")
    with browser(profile) as tab:
        tab.open(html)
        seen = tab.evaluate(COLLECT_ROWS)
        banner = tab.evaluate("document.querySelector('.violations, .ok').textContent")
        tab.evaluate(  # back to where the page opens (at the first violation, if any)
            "(() => { const r = JSON.parse(document.getElementById('timeline-data').textContent)"
            ".rows.find(r => r.kind === 'violation' || r.kind === 'lost');"
            " const l = document.getElementById('list');"
            " l.scrollTop = r ? Math.max(0, r.index * 24 - l.clientHeight / 3) : 0;"
            " l.dispatchEvent(new Event('scroll')); })()"
        )
        shot = tab.screenshot(pages / f"{trace.stem}.png")
        seen["banner"] = banner
        seen["lost"] = _lost_item(tab, pages / f"{trace.stem}-lost.png")
        return seen, tab.errors, shot


def _lost_item(tab: Any, shot: Path) -> dict[str, Any] | None:
    """Filter the page by the first item it says was lost (a lost call's item, or a
    violation of invariant 1), as a reader would, and screenshot it; None when nothing was
    lost."""
    call = tab.evaluate(
        "(() => { const rows = JSON.parse(document.getElementById('timeline-data')"
        ".textContent).rows; const r = rows.find(r => r.kind === 'lost') ||"
        " rows.find(r => r.kind === 'violation' && r.label.includes('NO_LOST_ITEM'));"
        " return r ? (r.kind === 'lost' ? r.items[1] : r.items[0]) : null; })()"
    )
    if call is None:
        return None
    tab.evaluate(
        "(() => { const f = document.getElementById('filter');"
        f" f.value = {call!r}; f.dispatchEvent(new Event('input')); }})()"
    )
    rows = tab.evaluate(COLLECT_ROWS)["rows"]
    tab.screenshot(shot)
    return {"call": call, "rows": rows, "shot": shot}


@pytest.mark.parametrize("name", ["accord", "naive"])
def test_the_page_shows_every_op_event_and_answer_of_the_trace(
    traces: dict[str, Path], tmp_path: Path, name: str
) -> None:
    seen, errors, shot = _open(tmp_path, traces[name], tmp_path / "profile")
    rows = seen["rows"]
    ops, events = trace_counts(traces[name])
    op_ids = [r["opId"] for r in rows if r["kind"] == "op"]
    assert len(op_ids) == ops
    assert sum(r["count"] for r in rows if r["kind"] == "event") == events
    assert all(r["eventType"] for r in rows if r["kind"] == "event")
    acks = [r["ackOf"] for r in rows if r["kind"] == "event" and r["ackOf"]]
    engine = engine_answers(traces[name])
    assert sorted(acks) == sorted(engine)
    failed = {r["opId"] for r in rows if r["kind"] == "op" and r["status"] == "failed"}
    assert failed == {op for op, status in engine.items() if status == "error"}
    assert set(acks) <= set(op_ids)
    assert errors == []
    assert shot.stat().st_size > 10_000
    violations = [r for r in rows if r["kind"] == "violation"]
    if name == "naive":
        assert violations and failed
        assert "NO_LOST_ITEM" in seen["banner"]
        lost = seen["lost"]  # filtered by the lost item: its arrival, its delete, the mark
        assert lost is not None
        rows = lost["rows"]
        assert any(r["kind"] == "violation" and "NO_LOST_ITEM" in r["text"] for r in rows)
        deletes = [r for r in rows if r["kind"] == "op" and "delete" in r["text"]]
        assert deletes and all(r["status"] is None for r in deletes)  # the server did it
        assert any(r["kind"] == "event" and r["ackOf"] == deletes[0]["opId"] for r in rows)
    else:
        assert violations == [] and failed == set()
        assert "no invariant violated" in seen["banner"]
    keep = os.environ.get("ACCORD_TIMELINE_SCREENSHOTS")
    if keep:  # how docs/timeline-naive.png was made
        Path(keep).mkdir(parents=True, exist_ok=True)
        for made in (shot, shot.with_name(f"{shot.stem}-lost.png")):
            if made.is_file():
                (Path(keep) / made.name).write_bytes(made.read_bytes())


def _long_page(tmp_path: Path, minutes: float) -> tuple[dict[str, Any], list[str], int]:
    trace = long_session(tmp_path / "long.jsonl", minutes=minutes)
    seen, errors, _shot = _open(tmp_path, trace, tmp_path / "profile")
    _ops, events = trace_counts(trace)
    return seen, errors, events


def test_a_long_sessions_page_keeps_a_small_dom(tmp_path: Path) -> None:
    seen, errors, events = _long_page(tmp_path, minutes=10)
    assert sum(r["count"] for r in seen["rows"] if r["kind"] == "event") == events
    assert seen["maxNodes"] < 1500  # only the rows in view (and some) are elements
    assert errors == []


@pytest.mark.slow
def test_a_60_minute_sessions_page_keeps_a_small_dom(tmp_path: Path) -> None:
    seen, errors, events = _long_page(tmp_path, minutes=60)
    assert events > 100_000
    assert sum(r["count"] for r in seen["rows"] if r["kind"] == "event") == events
    assert seen["maxNodes"] < 1500
    assert errors == []
