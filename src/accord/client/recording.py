"""Opt-in recording of a session as JSONL: the trace format and the recorder.

Each line is one thing that happened, with the loop time ``t``: a frame in, a frame
out, or a local call (pushes with their base and desired items, tool reports, ticks,
drops and reconnects). Keys are never recorded (they live in connection headers, which
are not). Audio is recorded as its length unless asked: audio deltas in and
``input_audio_buffer.append`` out keep only ``audio_bytes``.

Recording is a runtime feature (``SessionOptions(record=...)``); replaying and judging a
trace is the verifier's (:mod:`accord.verify.replay`), so a production session never
loads the checker. The format's inverse helpers (:func:`restore_audio`,
:func:`item_from_json`) stay here beside the encoders, so the format has one home.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from accord.item_json import item_fields, item_of
from accord.items import ChatContext, Item
from accord.protocol.spellings import AUDIO_PAYLOAD_FIELDS

FORMAT = "accord-trace/1"


def redact_audio(frame: str) -> str:
    """The frame with its audio payload replaced by the payload's decoded length."""
    try:
        data = json.loads(frame)
    except ValueError:
        return frame
    key = AUDIO_PAYLOAD_FIELDS.get(str(data.get("type"))) if isinstance(data, dict) else None
    if key is None or not isinstance(data.get(key), str):
        return frame
    payload = data.pop(key)
    data["audio_bytes"] = len(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def restore_audio(frame: str) -> str:
    """Inverse for replay: an audio payload of silence of the recorded length."""
    data = json.loads(frame)
    key = AUDIO_PAYLOAD_FIELDS.get(str(data.get("type"))) if isinstance(data, dict) else None
    if key is None or "audio_bytes" not in data:
        return frame
    data[key] = base64.b64encode(bytes(int(data.pop("audio_bytes")))).decode("ascii")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def item_to_json(item: Item) -> dict[str, Any]:
    return {"kind": type(item).__name__, **item_fields(item)}


def item_from_json(data: dict[str, Any]) -> Item:
    fields = dict(data)
    return item_of(fields.pop("kind"), fields)


def input_to_json(entries: Sequence[str | Item]) -> list[Any]:
    """A response's ``input``: item ids as they are, inline items as their JSON."""
    return [e if isinstance(e, str) else {"item": item_to_json(e)} for e in entries]


def input_from_json(entries: Sequence[Any]) -> tuple[str | Item, ...]:
    """The inverse of :func:`input_to_json`, for a replay."""
    return tuple(e if isinstance(e, str) else item_from_json(dict(e["item"])) for e in entries)


class Recorder:
    """Writes a trace: a header, one record per input, output and local call, an
    optional verdict of the run, and an end record counting what came before it, so a
    truncated trace is told from a short one."""

    def __init__(self, stream: IO[str], *, audio: bool) -> None:
        self._stream = stream
        self._audio = audio
        self._counts: dict[str, int] = {}

    @classmethod
    def open(
        cls,
        path: str | Path | None,
        seed: int | None,
        *,
        audio: bool = False,
        session: dict[str, Any] | None = None,
        strategy: str = "accord",
    ) -> Recorder:
        assert path is not None
        recorder = cls(Path(path).open("w", encoding="utf-8"), audio=audio)  # noqa: SIM115 - open for the whole session
        recorder._write(
            {
                "kind": "header",
                "format": FORMAT,
                "seed": seed,
                "session": session or {},
                "audio": audio,
                "strategy": strategy,
            }
        )
        return recorder

    def _write(self, record: dict[str, Any]) -> None:
        kind = str(record["kind"])
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def verdict(
        self, *, desyncs: int, findings: list[str], server: list[Item] | None = None
    ) -> None:
        """What the run that made this trace concluded (a demo, a test harness), and the
        server's conversation at the end when known: a replay must reproduce both."""
        record: dict[str, Any] = {"kind": "verdict", "desyncs": desyncs, "findings": findings}
        if server is not None:
            record["server"] = [item_to_json(item) for item in server]
        self._write(record)

    def frame_in(self, frame: str | bytes, now: float) -> None:
        if isinstance(frame, bytes):
            self._write({"kind": "in_binary", "t": now, "bytes": len(frame)})
            return
        self._write(
            {"kind": "in", "t": now, "frame": frame if self._audio else redact_audio(frame)}
        )

    def frame_out(self, frame: str) -> None:
        self._write({"kind": "out", "frame": frame if self._audio else redact_audio(frame)})

    def call(self, name: str, now: float, **args: Any) -> None:
        self._write({"kind": "call", "name": name, "t": now, "args": args})

    def push(self, ctx: ChatContext, now: float, explicit_replace: bool) -> None:
        base = ctx.base
        self._write(
            {
                "kind": "call",
                "name": "push",
                "t": now,
                "args": {
                    "explicit_replace": explicit_replace,
                    "base_version": None if base is None else base.version,
                    "base": None if base is None else [item_to_json(i) for i in base.items],
                    "desired": [item_to_json(i) for i in ctx.items],
                },
            }
        )

    def close(self) -> None:
        if self._stream.closed:
            return
        self._write({"kind": "end", "counts": dict(self._counts)})
        self._stream.close()


def read_trace(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a trace, header first, in order (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                yield json.loads(line)
