"""Replaying a recorded session: the same inputs must give byte-identical frames.

:func:`replay` feeds a trace's recorded inputs (frames in, local calls, ticks, drops) to
a fresh :class:`~accord.client.core.SessionCore` built with the recorded seed and
strategy, and compares every frame it sends with the trace's (both sides after the same
audio redaction). While it replays, the checker judges the run over the server's
conversation rebuilt from the trace's frames (:mod:`accord.verify.replay_check`): a
trace from the field can be judged without the server that produced it.

The recording itself is the runtime's (:mod:`accord.client.recording`); this side is the
verifier's, so a production session never loads the checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.client.core import SessionCore
from accord.client.recording import (
    FORMAT,
    input_from_json,
    item_from_json,
    read_trace,
    redact_audio,
    restore_audio,
)
from accord.items import ChatContext, ContextBase
from accord.verify.audit import Audit
from accord.verify.checker import Violation
from accord.verify.log import CheckLog
from accord.verify.replay_check import ServerRebuild, judge
from accord.verify.strategies import strategy_named


class TraceError(ValueError):
    """The file is not a whole accord trace: no header, or cut short (its end record is
    missing or counts records the file does not hold). Nothing is judged from it."""


@dataclass
class ReplayResult:
    """What a replay found: frame differences and the checker's violations.

    ``core`` is the replayed session core, kept so a test can look at the engine's
    state after the last record.
    """

    frames_expected: int
    frames_replayed: int
    mismatches: list[tuple[int, str, str]] = field(default_factory=list)
    core: SessionCore | None = None
    violations: list[Violation] = field(default_factory=list)  # the checker's verdict
    # The recorded run's own verdict, when the trace carries one: its desync count and
    # findings. ``server_differs``: the replayed mirror is not the server it recorded.
    recorded_desyncs: int | None = None
    recorded_findings: list[str] = field(default_factory=list)
    server_differs: bool = False

    @property
    def identical(self) -> bool:
        """Every recorded frame came out again, the same, and no more."""
        return not self.mismatches and self.frames_expected == self.frames_replayed

    @property
    def desynced(self) -> bool:
        """The replay judged the run broken: a violation, or a mirror unlike the server."""
        return bool(self.violations) or self.server_differs

    @property
    def verdict_reproduced(self) -> bool:
        """The replay reached the recorded run's verdict (desynced or not); True when the
        trace records none."""
        if self.recorded_desyncs is None:
            return True
        return (self.recorded_desyncs > 0) == self.desynced


def replay(
    path: str | Path,
    *,
    session: dict[str, Any] | None = None,
    watch: Callable[[SessionCore], Callable[[int], None]] | None = None,
) -> ReplayResult:
    """Re-feed a trace to a fresh core; compare every frame it sends with the trace's.

    ``watch`` (the timeline's hook) is handed the fresh core before anything is fed and
    returns a callback told the index of each record just before it is fed, so what the
    core decides (its effects, its observers) can be placed on the trace."""
    records = _whole(path, list(read_trace(path)))
    core = SessionCore(
        strategy=strategy_named(records[0].get("strategy", "accord")),
        seed=records[0].get("seed"),
        session_config=session if session is not None else records[0].get("session"),
    )
    expected = [r["frame"] for r in records if r["kind"] == "out"]
    produced: list[str] = []
    # The checker's side: the server rebuilt from its frames, the replay's decisions.
    rebuild = ServerRebuild()
    audit = Audit(lambda: rebuild.store)
    audit.attach(core)
    at = watch(core) if watch is not None else None
    for index, record in enumerate(records[1:], start=1):
        if at is not None:
            at(index)
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
        elif kind in ("verdict", "end"):
            continue
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
    verdict = next((r for r in records if r["kind"] == "verdict"), None)
    if verdict is not None:
        result.recorded_desyncs = int(verdict["desyncs"])
        result.recorded_findings = [str(f) for f in verdict.get("findings", [])]
        if "server" in verdict:
            server = [item_from_json(dict(i)) for i in verdict["server"]]
            result.server_differs = core.engine.mirror_items() != server
    return result


def _whole(path: str | Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, once they are known to be a whole trace (else :class:`TraceError`)."""
    if not records or records[0].get("format") != FORMAT:
        raise TraceError(f"{path}: not an accord trace ({FORMAT})")
    end = records[-1]
    if end.get("kind") != "end":
        raise TraceError(
            f"{path}: truncated: no end record after {len(records)} record(s) (a trace is "
            "complete once its session is closed)"
        )
    counted: dict[str, int] = {}
    for record in records[:-1]:
        counted[str(record.get("kind"))] = counted.get(str(record.get("kind")), 0) + 1
    if counted != end.get("counts"):
        raise TraceError(
            f"{path}: records missing or added: holds {counted}, its end says {end.get('counts')}"
        )
    return records


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
        args = {**args, "input_items": input_from_json(args.get("input_items") or ())}
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
