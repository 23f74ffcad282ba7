"""The timeline page's model and file, without a browser (test_timeline_browser.py opens
the pages): ops joined to their answers as the engine resolves them, the naive run's
violations and its lost call placed on the page, a self-contained file, a long session
aggregated into a bounded page, and the CLI's ``--html``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.client.core import SessionCore
from accord.client.recording import read_trace
from accord.engine import events as ev
from accord.timeline import build, page, render
from accord.verify.replay import replay
from timeline_support import long_session


def engine_answers(path: Path) -> dict[str, str]:
    """op id -> how the engine resolved it, for ops resolved by a server event: the
    oracle the page's wire join (which reads only the frames) is compared with."""
    records = list(read_trace(path))
    answered: dict[str, str] = {}
    current = [0]

    def watch(core: SessionCore) -> Any:
        previous = core._on_effect

        def on_effect(effect: ev.Effect) -> None:
            if isinstance(effect, ev.OpResolved) and records[current[0]]["kind"] == "in":
                answered.setdefault(effect.event_id, effect.status)
            previous(effect)

        core._on_effect = on_effect
        return lambda index: current.__setitem__(0, index)

    replay(path, watch=watch)
    return answered


def trace_counts(path: Path) -> tuple[int, int]:
    records = list(read_trace(path))
    return (
        sum(r["kind"] == "out" for r in records),
        sum(r["kind"] in ("in", "in_binary") for r in records),
    )


@pytest.mark.parametrize("name", ["accord", "naive"])
def test_every_op_is_joined_to_the_event_the_engine_resolved_it_by(
    traces: dict[str, Path], name: str
) -> None:
    timeline = build(traces[name])
    ops, events = trace_counts(traces[name])
    assert (timeline.count("op"), timeline.count("event")) == (ops, events)
    answered = {r.ref: r.status for r in timeline.rows if r.kind == "op" and r.status != "sent"}
    engine = engine_answers(traces[name])
    assert set(answered) == set(engine)
    assert {k for k, v in answered.items() if v == "failed"} == {
        k for k, v in engine.items() if v == "error"
    }
    assert timeline.acks == len(engine)
    for row in timeline.rows:  # a link goes from the op to the event that answers it
        if row.kind == "op" and row.link is not None:
            assert timeline.rows[row.link].ref == row.ref


def test_the_naive_page_marks_the_lost_item_where_it_was_deleted(
    traces: dict[str, Path],
) -> None:
    timeline = build(traces["naive"])
    lost = [r for r in timeline.rows if r.kind == "violation" and "NO_LOST_ITEM" in r.label]
    assert lost
    item = lost[0].items[0]
    assert lost[0].link is not None
    delete = timeline.rows[lost[0].link]  # placed at the delete that lost it...
    assert (delete.kind, delete.action, delete.items[0]) == ("op", "delete", item)
    assert delete.status == "acked"  # ...which the server carried out
    assert item in timeline.involved
    assert not [r for r in build(traces["accord"]).rows if r.kind in ("violation", "lost")]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    header = {"kind": "header", "format": "accord-trace/1", "seed": 0, "session": {}}
    path.write_text("".join(json.dumps(r) + "\n" for r in [header, *records]), encoding="utf-8")
    return path


def _tool_turn(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A call's tool runs; its output goes out; ``answer`` comes back."""
    output = {"id": "out1", "type": "function_call_output", "call_id": "call_1", "output": "{}"}
    create = {"type": "conversation.item.create", "event_id": "evt_o", "item": output}
    return [
        {"kind": "call", "name": "tool_started", "t": 1.0, "args": {"call_id": "call_1"}},
        {"kind": "call", "name": "tool_finished", "t": 1.5, "args": {"call_id": "call_1"}},
        {"kind": "out", "frame": json.dumps(create)},
        {"kind": "in", "t": 1.6, "frame": json.dumps(answer)},
    ]


def test_a_lost_call_is_marked_where_its_output_was_refused(tmp_path: Path) -> None:
    refused = {
        "type": "error",
        "event_id": "e1",
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_tool_call_id",
            "message": "Tool call ID 'call_1' not found in conversation.",
            "event_id": "evt_o",
        },
    }
    timeline = build(_write(tmp_path / "lost.jsonl", _tool_turn(refused)))
    lost = [r for r in timeline.rows if r.kind == "lost"]
    assert [r.label for r in lost] == ["lost call call_1"]
    assert lost[0].t == 1.6 - 1.0  # where the refusal came back (t from the first record)
    assert {"call_1", "out1"} <= set(timeline.involved)
    added = {
        "type": "conversation.item.added",
        "event_id": "e1",
        "previous_item_id": None,
        "item": {"id": "out1", "type": "function_call_output", "call_id": "call_1", "output": "{}"},
    }
    kept = build(_write(tmp_path / "kept.jsonl", _tool_turn(added)))
    assert not [r for r in kept.rows if r.kind == "lost"]


def test_push_rows_carry_the_engines_report(traces: dict[str, Path]) -> None:
    pushes = [r for r in build(traces["accord"]).rows if r.kind == "push"]
    assert pushes and all(r.detail.startswith("sent ") for r in pushes)
    tools = [r for r in build(traces["accord"]).rows if r.kind == "tool"]
    assert tools and all(r.end is not None and r.end > r.t for r in tools)


def test_the_page_is_one_self_contained_file(traces: dict[str, Path], tmp_path: Path) -> None:
    html = page(traces["naive"], tmp_path / "naive.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    data = re.search(
        r'<script type="application/json" id="timeline-data">(.*?)</script>', html, re.S
    )
    assert data is not None
    rows = json.loads(data.group(1).replace("<\\/", "</"))["rows"]
    assert len(rows) == len(build(traces["naive"]).rows)


def test_a_frame_cannot_close_the_pages_script(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    frame = json.dumps(
        {"type": "error", "event_id": "e1", "error": {"type": "x", "message": "</script><b>"}}
    )
    records = [
        {"kind": "header", "format": "accord-trace/1", "seed": 0, "session": {}, "audio": False},
        {"kind": "in", "t": 1.0, "frame": frame},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    html = render(build(path))  # not replayable (no end record): still a page
    assert html.count("</script>") == 2  # the data's and the code's, nothing else


def test_a_long_session_is_aggregated_into_a_bounded_page(tmp_path: Path) -> None:
    # Ten minutes here (the 60-minute run is test_timeline_browser's slow test).
    trace = long_session(tmp_path / "long.jsonl", minutes=10)
    timeline = build(trace)
    ops, events = trace_counts(trace)
    assert (timeline.count("op"), timeline.count("event")) == (ops, events)
    assert len(timeline.rows) < events / 10  # 150 deltas a turn are one row, not 150
    turns = 10 * 60 / 5
    assert len(render(timeline).encode()) < 4000 * turns  # a few kilobytes a turn, not 150 frames


def test_replay_writes_the_page_and_refuses_a_missing_trace(
    traces: dict[str, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["replay", str(traces["accord"]), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and 'id="timeline-data"' in out.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["replay", str(tmp_path / "nope.jsonl"), "--html", str(out)])
    assert missing.exit_code == 2


def test_demo_writes_its_page_without_a_trace_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "demo.html"
    result = CliRunner().invoke(app, ["demo", "--turns", "2", "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert '"kind":"op"' in html and "no invariant violated" in html
    assert list(tmp_path.iterdir()) == [out]  # its temporary trace is gone


def test_explore_writes_a_page_per_shrunk_violation(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    args = ["explore", "--strategy", "naive", "--scenario", "r1", "--depth", "6", "--seeds", "0"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "v"), "--html", str(folder)])
    assert result.exit_code == 1, result.output  # the naive strategy loses fc1
    pages = sorted(folder.iterdir())
    assert [p.name for p in pages] == ["r1-naive.html"]
    html = pages[0].read_text(encoding="utf-8")
    assert '"kind":"violation"' in html and "NO_LOST_ITEM" in html and "fc1" in html
