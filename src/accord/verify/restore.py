"""The restore judge: invariant 7, lossless reconnect, written once.

A Realtime session cannot be resumed: after a drop the conversation lives on a new,
empty server, and the client must rebuild it from its projected state at the drop
(the mirror with every pending operation applied), normalised by N (see
:func:`normalize_for_restore` and ``docs/architecture.md``). Every judge of a reconnect
(the pair harness, the stress run's session judge, the session tests) goes through the
three steps here:

1. :func:`drop_entries`, at the drop: what the restore must rebuild. The items come from
   the client's frozen projected state (that is what "projected" means), but everything
   N needs beyond the items is taken from the witnesses, not from the engine's own
   bookkeeping: where each turn was cut comes from the truncates the client sent (the
   log), its full transcript and length from the old server's store. A judge that took
   those from the engine would only check the engine against itself.
2. :func:`carry_open`, at the drop: the log of the new server session, which keeps the
   operations still waiting (the restore settles them) and the tools still running.
3. :func:`judge_restore`, when the client reports the restore done: the items the
   restore created equal N(entries), and the loss report names exactly the user audio
   that had no transcript.

It shares no code with the engine's restore planner (:mod:`accord.engine.restore`): the
two implementations of N are compared, not one with itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from accord.client.core import SessionCore
from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol.spellings import QUOTED_AUDIO_DELTAS
from accord.sim.store import ConversationStore
from accord.verify.checker import Invariant, Violation
from accord.verify.log import CheckLog, ToolReport


@dataclass(frozen=True, slots=True)
class DropEntry:
    """One item of the projected state at a disconnect, for the restore check.

    ``partial``: still being generated at the drop (unfinished arguments, a partial
    assistant message). For truncated assistant audio, ``audio_end_ms`` is the truncation
    point and ``audio_total_ms`` the full length; ``item.content`` is the full transcript.
    """

    item: Item
    partial: bool = False
    audio_end_ms: int | None = None
    audio_total_ms: int | None = None


@dataclass(frozen=True)
class PendingRestore:
    """A drop whose restore has not been judged yet: what it must rebuild."""

    entries: tuple[DropEntry, ...]
    drop_ids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop_ids", frozenset(e.item.id for e in self.entries))


# -- N: what a restored server must hold -----------------------------------------------


def normalize_for_restore(entries: Sequence[DropEntry]) -> tuple[list[Item], list[str]]:
    """N(projected state): what a restored server must hold, and the user audio lost.

    Complete messages stay; calls stay with their outputs (a complete call without an
    output stays; its output follows later); partial items go, and outputs of calls that
    went; assistant audio becomes its transcript, cut for a truncated turn to
    ``len(transcript) * audio_end_ms // audio_total_ms`` characters and marked
    interrupted; user audio becomes its transcript, or is lost when it has none.
    """
    kept: list[Item] = []
    lost: list[str] = []
    dropped_calls: set[str] = set()
    for entry in entries:
        item = entry.item
        if isinstance(item, FunctionCall):
            if entry.partial:
                dropped_calls.add(item.call_id)
            else:
                kept.append(item)
        elif isinstance(item, FunctionCallOutput):
            if item.call_id not in dropped_calls:
                kept.append(item)
        elif entry.partial:
            continue
        elif not isinstance(item, Message) or not item.audio:
            kept.append(item)
        elif item.content is None:
            lost.append(item.id)
        else:
            kept.append(_as_text(item, entry))
    return kept, lost


def _as_text(item: Message, entry: DropEntry) -> Message:
    text = item.text
    interrupted = item.interrupted
    if entry.audio_end_ms is not None and entry.audio_total_ms:
        cut = len(text) * min(entry.audio_end_ms, entry.audio_total_ms) // entry.audio_total_ms
        text, interrupted = text[:cut], True
    return replace(item, content=text, audio=False, audio_ms=None, interrupted=interrupted)


def on_the_wire(item: Item) -> Item:
    """The item as a server reached over the wire can hold it: ``interrupted`` has no
    wire spelling (it is never sent), so N's "marked as interrupted" cannot arrive."""
    return replace(item, interrupted=False) if isinstance(item, Message) else item


# -- at the drop -----------------------------------------------------------------------


BYTES_PER_MS = 48  # PCM16 mono at 24 kHz


class ReceivedAudio:
    """How much assistant audio a session core received, per item, counted from the raw
    server frames before the core reads them.

    A witness beside the client, not its bookkeeping: the restore judge needs each cut
    turn's full length, and the engine's own figure is what it judges.
    """

    def __init__(self) -> None:
        self._bytes: dict[str, int] = {}

    def attach(self, core: SessionCore) -> None:
        """Count every frame ``core`` receives from now on, then let it read the frame."""
        receive = core.receive_frame

        def counted(frame: str | bytes, now: float) -> list[str]:
            if isinstance(frame, str):
                self.frame(frame)
            return receive(frame, now)

        core.receive_frame = counted  # type: ignore[method-assign]

    def frame(self, frame: str) -> None:
        """Count one server frame (anything but an audio delta is passed over cheaply)."""
        if not any(kind in frame for kind in QUOTED_AUDIO_DELTAS):
            return
        try:
            data = json.loads(frame)
            item_id, delta = str(data["item_id"]), str(data["delta"])
            size = len(base64.b64decode(delta + "=" * (-len(delta) % 4)))
        except (ValueError, KeyError, TypeError):
            return  # a malformed frame is the client's to report, not a length
        self._bytes[item_id] = self._bytes.get(item_id, 0) + size

    def ms(self, item_id: str) -> int | None:
        """The audio received for ``item_id``, in ms (None: none arrived)."""
        size = self._bytes.get(item_id)
        return None if size is None else size // BYTES_PER_MS


def drop_entries(
    client: Any,
    store: ConversationStore,
    log: CheckLog,
    received: ReceivedAudio | None = None,
) -> list[DropEntry] | None:
    """What a restore must rebuild, from the client's frozen projected state (its
    ``at_drop``; None for a strategy that keeps none, such as the naive one), each
    truncated turn cut where the client's truncate said, with its full transcript from
    the old server's ``store``.

    The turn's full length is the audio the client received, as ``received`` counted it
    from the frames; without one (in-process, where the store holds exactly what it
    sent) the store's. Over the wire the server's own count can be ~85 ms short of what
    it sent (``docs/protocol-notes.md``), and the words of a turn span all of its audio.
    """
    at_drop = getattr(client, "at_drop", None)
    if at_drop is None:
        return None
    truncated = {
        op.item_id: op.played_ms
        for op in log.ops.values()
        if op.kind == "truncate" and op.item_id and op.played_ms
    }
    entries: list[DropEntry] = []
    for e in at_drop:
        item, heard = e.item, truncated.get(e.item.id)
        rec = store.record(item.id)
        if heard is None or rec is None or not isinstance(item, Message):
            entries.append(DropEntry(item, e.partial))
            continue
        full = rec.transcript_before_truncate
        if full is None and isinstance(rec.item, Message):
            full = rec.item.content
        total = rec.audio_total_ms if received is None else received.ms(item.id)
        entries.append(DropEntry(replace(item, content=full), e.partial, heard, total))
    return entries


def carry_open(log: CheckLog) -> CheckLog:
    """A new log for the new server: the operations still waiting to resolve (the restore
    settles them) and the tools still running (a delete of their call stays judged)."""
    resolved = {r.event_id for r in log.resolutions if r.status != "unknown"}
    fresh = CheckLog()
    for op in log.ops.values():
        if op.event_id not in resolved and op.kind in ("create", "delete", "truncate"):
            fresh.op(replace(op, at_transition=0, push_id=None, carried=True))
    running: dict[str, bool] = {}
    for report in log.tool_reports:
        running[report.call_id] = report.event == "started"
    for call_id, started in running.items():
        if started:
            fresh.tool(ToolReport(call_id, "started", 0))
    return fresh


# -- when the restore is done ----------------------------------------------------------


def judge_restore(
    store: ConversationStore,
    log: CheckLog,
    pending: PendingRestore,
    reported_lost: Iterable[str],
    *,
    over_the_wire: bool = False,
) -> list[Violation]:
    """Invariant 7 on the new server: the items the restore created (creates of no push,
    except outputs of tools that finished meanwhile) equal N(projected at the drop), and
    the loss report names exactly the user audio that had no transcript.

    The restore's own creates are read from the store's history, not its live list: the
    application keeps working while a restore is acknowledged, so a push may already
    have removed a restored item (or a tool's output come in, or a response added its
    own) by the time the client reports the restore done. Order is compared among the
    restored items still there. ``over_the_wire``: the restore travelled as JSON, so
    items are compared as a server can hold them (:func:`on_the_wire`); in-process (the
    pair harness) the store holds exactly what the client sent.
    """
    expected, lost = normalize_for_restore(pending.entries)
    restore_creates = {
        op.event_id
        for op in log.ops.values()
        if op.kind == "create" and op.push_id is None and not op.carried
    }
    restored: dict[str, Item] = {}
    for rec in store.history():
        if rec.created_by not in restore_creates or rec.item.id in restored:
            continue
        if isinstance(rec.item, FunctionCallOutput) and rec.item.id not in pending.drop_ids:
            continue  # a tool's output sent after its restored call was acknowledged
        restored[rec.item.id] = rec.item
    alive = [i.id for i in store.items() if i.id in restored]
    held = on_the_wire if over_the_wire else _as_sent
    found = _compare_restore([held(i) for i in expected], restored, alive, held)
    reported = sorted(set(reported_lost))
    if reported != sorted(lost):
        found.append(
            Violation(
                Invariant.LOSSLESS_RECONNECT,
                None,
                f"loss report {reported} differs from the lost user audio {sorted(lost)}",
            )
        )
    return found


def _as_sent(item: Item) -> Item:
    return item


def _compare_restore(
    expected: list[Item],
    restored: dict[str, Item],
    alive: list[str],
    held: Callable[[Item], Item],
) -> list[Violation]:
    found: list[Violation] = []
    want = {i.id: i for i in expected}
    for item in expected:
        got = restored.get(item.id)
        if got is None:
            found.append(Violation(Invariant.LOSSLESS_RECONNECT, item.id, "not restored"))
        elif held(got) != item:
            found.append(
                Violation(
                    Invariant.LOSSLESS_RECONNECT, item.id, f"restored as {got!r}, expected {item!r}"
                )
            )
    for item_id in restored:
        if item_id not in want:
            found.append(
                Violation(Invariant.LOSSLESS_RECONNECT, None, f"restored {item_id!r}, not expected")
            )
    order = [i.id for i in expected if i.id in set(alive)]
    if not found and alive != order:
        found.append(Violation(Invariant.LOSSLESS_RECONNECT, None, "restored in another order"))
    return found
