"""Synthetic traces for the timeline's tests: a long spoken session made of plain turns.

A 60-minute session is what the page must stay usable for; recording one would take an
hour, so this writes one of the same shape (a typed turn, its response, three seconds of
spoken audio in 20 ms deltas, usage) every few seconds, as a whole ``accord-trace/1``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from accord.demo.scenario import DemoConfig, run_demo

FORMAT = "accord-trace/1"


def _frame(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


def long_session(
    path: Path, *, minutes: float = 60.0, every: float = 5.0, deltas: int = 150
) -> Path:
    """Write a trace of ``minutes`` of turns, one every ``every`` seconds; return ``path``."""
    records: list[dict[str, Any]] = [
        {
            "kind": "header",
            "format": FORMAT,
            "seed": 0,
            "session": {},
            "audio": False,
            "strategy": "accord",
        }
    ]
    n, t = 0, 0.0
    while t < minutes * 60:
        user, asst, resp, op, req = f"user_{n}", f"asst_{n}", f"resp_{n}", f"evt_u{n}", f"evt_r{n}"
        content = [{"type": "input_text", "text": f"turn {n}"}]
        item = {"id": user, "type": "message", "role": "user", "content": content}
        records.append(
            {
                "kind": "out",
                "frame": _frame(type="conversation.item.create", event_id=op, item=item),
            }
        )
        records.append(
            {
                "kind": "in",
                "t": t + 0.05,
                "frame": _frame(
                    type="conversation.item.added",
                    event_id=f"e{n}a",
                    previous_item_id=None,
                    item=item,
                ),
            }
        )
        records.append(
            {
                "kind": "out",
                "frame": _frame(
                    type="response.create",
                    event_id=req,
                    response={"metadata": {"accord_event": req}},
                ),
            }
        )
        response = {
            "id": resp,
            "status": "in_progress",
            "output": [],
            "metadata": {"accord_event": req},
        }
        records.append(
            {
                "kind": "in",
                "t": t + 0.1,
                "frame": _frame(type="response.created", event_id=f"e{n}b", response=response),
            }
        )
        message = {"id": asst, "type": "message", "role": "assistant", "content": []}
        records.append(
            {
                "kind": "in",
                "t": t + 0.11,
                "frame": _frame(
                    type="response.output_item.added",
                    event_id=f"e{n}c",
                    response_id=resp,
                    output_index=0,
                    item=message,
                ),
            }
        )
        for k in range(deltas):
            records.append(
                {
                    "kind": "in",
                    "t": t + 0.12 + 0.02 * k,
                    "frame": _frame(
                        type="response.output_audio.delta",
                        event_id=f"e{n}d{k}",
                        response_id=resp,
                        item_id=asst,
                        output_index=0,
                        content_index=0,
                        audio_bytes=960,
                    ),
                }
            )
        done = {
            **response,
            "status": "completed",
            "usage": {"input_tokens": 20 + n, "output_tokens": 30},
        }
        records.append(
            {
                "kind": "in",
                "t": t + 0.2 + 0.02 * deltas,
                "frame": _frame(type="response.done", event_id=f"e{n}e", response=done),
            }
        )
        records.append({"kind": "call", "name": "tick", "t": t + 4.0, "args": {}})
        n, t = n + 1, t + every
    counts: dict[str, int] = {}
    for record in records:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    records.append({"kind": "end", "counts": counts})
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record) + "\n")
    return path


def demo_traces(folder: Path) -> dict[str, Path]:
    """A demo trace and a naive one, recorded now (the naive demo stops at its first
    desync)."""
    configs = {
        "accord": DemoConfig(turns=4, record=folder / "accord.jsonl"),
        "naive": DemoConfig(strategy="naive", record=folder / "naive.jsonl"),
    }
    for config in configs.values():
        asyncio.run(run_demo(config))
    return {name: folder / f"{name}.jsonl" for name in configs}
