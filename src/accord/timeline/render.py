"""Rendering a :class:`~accord.timeline.model.Timeline` as one self-contained HTML page.

Everything the page needs is inline (the stylesheet, the script, the rows as JSON), so
it opens from a file with no network. The rows are not written as HTML: the script
draws the few in view (see ``page.js``), which keeps the DOM small for a long session;
the markup each row gets (``data-kind``, ``data-op-id``, ``data-event-type``,
``data-ack-of``, ``data-status``) is the contract a test reads.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from accord.timeline.model import Row, Timeline

#: The page may load nothing: no network, no other file; only its own inline style and code.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _asset(name: str) -> str:
    return resources.files("accord.timeline").joinpath(name).read_text(encoding="utf-8")


def _row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    data["t"] = round(row.t, 4)
    data["end"] = None if row.end is None else round(row.end, 4)
    return {k: v for k, v in data.items() if v not in ("", None) or k in ("end", "ref")}


def _at(timeline: Timeline, t: float) -> str:
    return f"step {t:.0f}" if timeline.unit == "step" else f"{t:.3f} s"


def _script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` can close it early)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(timeline: Timeline) -> str:
    """The page, as a string."""
    rows = [_row_json(row) for row in timeline.rows]
    for row in rows:  # fields the script reads on every row
        row.setdefault("items", [])
        row.setdefault("count", 1)
        row.setdefault("status", None)
        row.setdefault("detail", "")
    data = {
        "rows": rows,
        "involved": list(timeline.involved),
        "duration": timeline.duration,
        "unit": timeline.unit,
    }
    violations = [row for row in timeline.rows if row.kind in ("violation", "lost")]
    esc = html.escape
    summary = (
        f"<span>strategy <b>{esc(timeline.strategy)}</b></span>"
        f"<span>{timeline.count('op')} operations</span>"
        f"<span>{timeline.count('event')} server events</span>"
        f"<span>{timeline.acks} answered</span>"
        f"<span>{sum(1 for r in timeline.rows if r.kind == 'op' and r.status == 'failed')}"
        " refused</span>"
        f"<span>{_at(timeline, timeline.duration)}</span>"
        + ("" if timeline.replayed else "<span>(not replayed: no push reports)</span>")
    )
    if violations:
        items = "".join(
            f'<li class="{row.kind}"><a href="#" data-jump="{row.index}">{esc(row.label)}</a> '
            f"{esc(', '.join(row.items))}: {esc(row.detail)} (at {_at(timeline, row.t)})</li>"
            for row in violations
        )
        verdict = f'<ul class="violations">{items}</ul>'
    else:
        verdict = '<p class="ok">no invariant violated</p>'
    findings = "".join(f"<li>{esc(f)}</li>" for f in timeline.findings)
    recorded = (
        f"<details><summary>the recorded run's verdict ({len(timeline.findings)} finding(s))"
        f"</summary><ul>{findings}</ul></details>"
        if findings
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>accord timeline: {esc(timeline.title)}</title>
<style>{_asset("page.css")}</style></head>
<body>
<header><h1>accord timeline: {esc(timeline.title)}</h1>
<div class="summary">{summary}</div>{verdict}{recorded}</header>
<div class="tools"><button id="zoom-in">zoom in</button><button id="zoom-out">zoom out</button>
<button id="zoom-reset">whole session</button><span id="range"></span>
<label>filter by item id <input id="filter" placeholder="item, call or op id"></label>
<span id="status"></span></div>
<canvas id="overview" height="96"></canvas>
<div class="lanes"><span>time</span><span>application / engine</span>
<span>wire (client operations)</span><span>server</span></div>
<div id="list"><div id="spacer"></div></div>
<pre id="card" hidden></pre>
<script type="application/json" id="timeline-data">{_script_json(data)}</script>
<script>{_asset("page.js")}</script>
</body></html>
"""


def write(timeline: Timeline, path: str | Path) -> Path:
    """Write the page to ``path`` (its folder is created) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(timeline), encoding="utf-8")
    return out
