"""Opt-in recording of a session as JSONL, and its byte-identical replay.

Each line is one thing that happened, with the loop time ``t``: a frame in, a frame
out, or a local call (pushes with their base and desired items, tool reports, ticks,
drops and reconnects). Keys are never recorded (they live in connection headers, which
are not). Audio is recorded as its length unless asked: audio deltas in and
``input_audio_buffer.append`` out keep only ``audio_bytes``.

``replay`` feeds the recorded inputs to a fresh :class:`SessionCore` with the recorded
seed and checks that it sends byte-identical frames (both sides compared after the same
audio redaction).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from accord.client.core import SessionCore
from accord.client.replay_check import ServerRebuild, judge
from accord.explore.audit import Audit
from accord.explore.checker import Violation
from accord.explore.log import CheckLog
from accord.items import ChatContext, ContextBase, FunctionCall, FunctionCallOutput, Item, Message

FORMAT = "accord-trace/1"
AUDIO_FIELDS = {
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
    "input_audio_buffer.append": "audio",
}


def redact_audio(frame: str) -> str:
    """The frame with its audio payload replaced by the payload's decoded length."""
    try:
        data = json.loads(frame)
    except ValueError:
        return frame
    key = AUDIO_FIELDS.get(str(data.get("type"))) if isinstance(data, dict) else None
    if key is None or not isinstance(data.get(key), str):
        return frame
    payload = data.pop(key)
    data["audio_bytes"] = len(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def restore_audio(frame: str) -> str:
    """Inverse for replay: an audio payload of silence of the recorded length."""
    data = json.loads(frame)
    key = AUDIO_FIELDS.get(str(data.get("type"))) if isinstance(data, dict) else None
    if key is None or "audio_bytes" not in data:
        return frame
    data[key] = base64.b64encode(bytes(int(data.pop("audio_bytes")))).decode("ascii")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def item_to_json(item: Item) -> dict[str, Any]:
    return {"kind": type(item).__name__, **asdict(item)}


def item_from_json(data: dict[str, Any]) -> Item:
    kind = data.pop("kind")
    cls = {
        "Message": Message,
        "FunctionCall": FunctionCall,
        "FunctionCallOutput": FunctionCallOutput,
    }[kind]
    return cls(**data)  # type: ignore[no-any-return]


class Recorder:
    def __init__(self, stream: IO[str], *, audio: bool) -> None:
        self._stream = stream
        self._audio = audio

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
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")

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
        self._stream.close()


@dataclass
class ReplayResult:
    frames_expected: int
    frames_replayed: int
    mismatches: list[tuple[int, str, str]] = field(default_factory=list)
    core: SessionCore | None = None
    violations: list[Violation] = field(default_factory=list)  # the checker's verdict

    @property
    def identical(self) -> bool:
        return not self.mismatches and self.frames_expected == self.frames_replayed


def _records(path: str | Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                yield json.loads(line)


def replay(path: str | Path, *, session: dict[str, Any] | None = None) -> ReplayResult:
    """Re-feed a trace to a fresh core; compare every frame it sends with the trace's."""
    records = list(_records(path))
    if not records or records[0].get("format") != FORMAT:
        raise ValueError(f"{path}: not an accord trace ({FORMAT})")
    core = SessionCore(
        strategy=records[0].get("strategy", "accord"),
        seed=records[0].get("seed"),
        session_config=session if session is not None else records[0].get("session"),
    )
    expected = [r["frame"] for r in records if r["kind"] == "out"]
    produced: list[str] = []
    # The checker's side: the server rebuilt from its frames, the replay's decisions.
    rebuild = ServerRebuild()
    audit = Audit(lambda: rebuild.store)
    audit.attach(core)
    for record in records[1:]:
        kind = record["kind"]
        if kind == "in":
            frame = record["frame"]
            rebuild.server_frame(frame)
            produced += core.receive_frame(
                frame if records[0].get("audio", False) else restore_audio(frame), record["t"]
            )
        elif kind == "in_binary":
            produced += core.receive_frame(bytes(record["bytes"]), record["t"])
        elif kind == "out":
            rebuild.client_frame(record["frame"])
        elif kind == "call":
            if record["name"] == "connected_again":  # a new, empty server session
                rebuild = ServerRebuild()
                audit.log = CheckLog()
            _call(core, record["name"], record["t"], record["args"])
            produced += core.frames()
    if not records[0].get("audio", False):  # audio recorded as lengths: compare so
        produced = [redact_audio(f) for f in produced]
    result = ReplayResult(len(expected), len(produced), core=core)
    result.violations = judge(
        rebuild, audit.log, core.engine.mirror_items(), core.engine.is_quiet()
    )
    for i, (want, got) in enumerate(zip(expected, produced, strict=False)):
        if want != got:
            result.mismatches.append((i, want, got))
    return result


def _call(core: SessionCore, name: str, now: float, args: dict[str, Any]) -> None:
    if name == "push":
        base = None
        if args["base"] is not None:
            items = tuple(item_from_json(dict(i)) for i in args["base"])
            base = ContextBase(args["base_version"], items)
        ctx = ChatContext([item_from_json(dict(i)) for i in args["desired"]], base=base)
        core.push(ctx, now, explicit_replace=args["explicit_replace"])
    elif name == "connect":
        core.configure_after_connect(now, restoring=False)
    elif name == "connection_lost":
        core.connection_lost(now)
    elif name == "connected_again":
        core.connected_again(now)
    elif name == "tick":
        core.tick(now)
    elif name == "generate_reply":
        core.generate_reply(now, **args)
    elif name == "interrupt":
        core.interrupt(
            now,
            args.get("played_ms"),
            item_id=args.get("item_id"),
            truncate=args.get("truncate", True),
        )
    elif name == "push_audio":
        core.push_audio(
            bytes.fromhex(args["audio"]) if "audio" in args else bytes(int(args["audio_bytes"]))
        )
    elif name in ("commit_audio", "clear_audio"):
        getattr(core, name)()
    elif name == "tool_started":
        core.tool_started(args["call_id"], now)
    elif name == "tool_finished":
        core.tool_finished(args["call_id"], args["output"], now)
    elif name == "tool_abandoned":
        core.tool_abandoned(args["call_id"], now, delete=args["delete"])
    elif name == "update_session":
        core.update_session(args["fields"], now)
    else:
        raise ValueError(f"unknown recorded call {name!r}")
