"""The wire lanes of a timeline: client operations joined to the server events that
answer them.

The join reads only the frames, through the protocol's typed events, so it works on
any trace (one from the field as well as one accord can replay): an ``error`` names the
refused operation by its ``event_id``; otherwise an operation is answered by the first
later event about the same thing (a create by the ``item.added`` of its item, a delete
by the ``item.deleted``, a ``response.create`` by the ``response.created`` whose
metadata carries its event id, else the oldest unanswered one). Deltas of one item in a
row are one row with a count, so a long spoken reply is one line, not a thousand.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from accord.client.recording import restore_audio
from accord.engine.events import ROOT
from accord.protocol import client_events as ce
from accord.protocol import server_events as se
from accord.protocol.codec import (
    UnknownEvent,
    parse_client_event,
    parse_server_event,
    type_names,
)
from accord.protocol.errors import ProtocolError
from accord.protocol.fast import peek_delta
from accord.protocol.metadata import REQUEST_TAG as TAG
from accord.protocol.wire_items import WireFunctionCall
from accord.timeline.model import Row, clip

DELTAS: tuple[type[se.ServerEvent], ...] = (
    se.ResponseOutputAudioDelta,
    se.ResponseOutputTextDelta,
    se.ResponseOutputAudioTranscriptDelta,
    se.ResponseFunctionCallArgumentsDelta,
    se.InputAudioTranscriptionDelta,
)
AUDIO_DELTAS = (se.ResponseOutputAudioDelta,)
#: A delta is counted from its JSON without validating it (protocol.fast.peek_delta),
#: which keeps a long session's page quick.
AUDIO_DELTA_TYPES = frozenset(name for cls in AUDIO_DELTAS for name in type_names(cls))


@dataclass
class _Span:
    row: int
    items: list[str] = field(default_factory=list)


@dataclass
class WireJoin:
    """Turns frames into op and event rows, joining each op to its answer."""

    rows: list[Row] = field(default_factory=list)
    _by_item: dict[tuple[str, str], int] = field(default_factory=dict)  # (what, item) -> op row
    _responses: deque[int] = field(default_factory=deque)
    _fifo: dict[str, deque[int]] = field(default_factory=dict)  # cancel / session / commit
    _ops: dict[str, int] = field(default_factory=dict)  # event_id -> op row
    _runs: dict[tuple[str, str], int] = field(default_factory=dict)  # open delta runs
    _responses_open: dict[str, _Span] = field(default_factory=dict)
    _audio_open: dict[str, int] = field(default_factory=dict)  # item -> audio segment row
    calls: dict[str, str] = field(default_factory=dict)  # call id -> function call item id
    _out_of_band: set[str] = field(default_factory=set)  # response.create ops, conversation none
    _growth: dict[int, tuple[int, float]] = field(default_factory=dict)  # row -> (count, end)

    def add(self, row: Row) -> int:
        row = replace(row, index=len(self.rows))
        self.rows.append(row)
        return row.index

    # -- client side ----------------------------------------------------------------

    def client_frame(self, frame: str, t: float) -> None:
        try:
            event = parse_client_event(restore_audio(frame))
        except ProtocolError:
            event = None
        kind = getattr(event, "type", "") or "unparsed"
        op_id = getattr(event, "event_id", None) or ""
        items, key = _client_items(event)
        index = self.add(
            Row(
                0,
                t,
                "wire",
                "op",
                kind,
                kind,
                items,
                op_id,
                "sent",
                frame=clip(frame),
                action=key[0] if key else "",
            )
        )
        if op_id:
            self._ops[op_id] = index
        if key is not None:
            self._by_item[key] = index
        elif isinstance(event, ce.ResponseCreate):
            self._responses.append(index)
            if event.response is not None and event.response.out_of_band:
                self._out_of_band.add(op_id)
        elif event is not None and not isinstance(event, ce.InputAudioBufferAppend | UnknownEvent):
            self._fifo.setdefault(kind, deque()).append(index)

    # -- server side ----------------------------------------------------------------

    def server_frame(self, frame: str, t: float) -> None:
        delta = peek_delta(frame)
        if delta is not None:
            self._delta(delta[0], delta[2], t, frame)
            return
        try:
            event = parse_server_event(restore_audio(frame))
        except ProtocolError as exc:
            self.add(Row(0, t, "server", "event", "unparsed", "unparsed", detail=str(exc)))
            return
        if isinstance(event, UnknownEvent):
            self.add(Row(0, t, "server", "event", event.type, event.type, frame=clip(frame)))
            return
        if isinstance(event, DELTAS):
            self._delta(event.type, str(getattr(event, "item_id", "")), t, frame)
            return
        self.close_runs()
        item = getattr(event, "item", None)
        if isinstance(item, WireFunctionCall) and item.id:
            self.calls.setdefault(item.call_id, item.id)
        items = _server_items(event)
        index = self.add(
            Row(0, t, "server", "event", event.type, event.type, items, frame=clip(frame))
        )
        answered = self._answered(event)
        oob = answered is not None and self.rows[answered].ref in self._out_of_band
        if answered is not None:
            error = event.error if isinstance(event, se.ErrorEvent) else None
            self._link(
                answered,
                index,
                failed=error is not None,
                error="" if error is None else f"{error.code}: {error.message}",
            )
        self._spans(event, t, index, out_of_band=oob)

    def _delta(self, kind: str, item: str, t: float, frame: str) -> None:
        key = (kind, item)
        run = self._runs.get(key)
        if run is None:
            self._runs[key] = run = self.add(
                Row(0, t, "server", "event", kind, kind, (item,), frame=clip(frame))
            )
        self._grow(run, t)
        if kind in AUDIO_DELTA_TYPES:
            segment = self._audio_open.get(item)
            if segment is None:  # spoken audio: one segment per item, first delta to last
                self._audio_open[item] = segment = self.add(
                    Row(0, t, "server", "audio", "spoken audio", items=(item,), end=t)
                )
            self._grow(segment, t)

    def _grow(self, row: int, t: float) -> None:
        """One more delta for an aggregated row (applied by :meth:`close_runs`)."""
        count, _end = self._growth.get(row, (0, t))
        self._growth[row] = (count + 1, t)

    def close_runs(self) -> None:
        """End the open runs of deltas; every aggregated row gets its count and end."""
        for row, (count, end) in self._growth.items():
            self.rows[row] = replace(self.rows[row], count=count, end=end)
        self._growth.clear()
        self._runs.clear()

    def _answered(self, event: se.ServerEvent) -> int | None:
        """The op row ``event`` answers, taken off the waiting lists."""
        found: int | None = None
        if isinstance(event, se.ErrorEvent):
            found = self._ops.get(event.error.event_id or "")
        elif isinstance(event, se.ConversationItemAdded) and event.item.id:
            found = self._by_item.get(("create", event.item.id))
        elif isinstance(event, se.ConversationItemDeleted):
            found = self._by_item.get(("delete", event.item_id))
        elif isinstance(event, se.ConversationItemTruncated):
            found = self._by_item.get(("truncate", event.item_id))
        elif isinstance(event, se.ConversationItemRetrieved) and event.item.id:
            found = self._by_item.get(("retrieve", event.item.id))
        elif isinstance(event, se.ResponseCreated):
            tag = (event.response.metadata or {}).get(TAG)
            found = self._ops.get(tag) if tag else None
            if found is None and self._responses:
                found = self._responses[0]
        else:
            waiting = self._fifo.get(_answers(event), deque())
            found = waiting[0] if waiting else None
        if found is None or self.rows[found].status != "sent":
            return None
        return found

    def _link(self, op: int, event: int, *, failed: bool, error: str = "") -> None:
        """Join op row ``op`` to the event row ``event`` that answered it."""
        op_row = self.rows[op]
        self.rows[op] = replace(
            op_row,
            status="failed" if failed else "acked",
            link=event,
            detail=error or f"answered +{1000 * (self.rows[event].t - op_row.t):.0f} ms",
        )
        self.rows[event] = replace(self.rows[event], ref=op_row.ref)
        for key in [k for k, v in self._by_item.items() if v == op]:
            del self._by_item[key]
        if op in self._responses:
            self._responses.remove(op)
        for waiting in self._fifo.values():
            if op in waiting:
                waiting.remove(op)

    def _spans(self, event: se.ServerEvent, t: float, index: int, *, out_of_band: bool) -> None:
        """Responses as spans from ``response.created`` to ``response.done``; one asked
        for out of band (outside the conversation) says so."""
        if isinstance(event, se.ResponseCreated):
            rid = event.response.id
            label = f"response {rid}" + (" (out of band)" if out_of_band else "")
            at = self.add(Row(0, t, "server", "response", label, items=(rid,), end=None))
            self._responses_open[rid] = _Span(at)
        elif isinstance(event, se.ResponseOutputItemAdded):
            span = self._responses_open.get(event.response_id)
            if span is not None and event.item.id:
                span.items.append(event.item.id)
        elif isinstance(event, se.ResponseDone):
            span = self._responses_open.pop(event.response.id, None)
            if span is None:
                return
            row = self.rows[span.row]
            usage = event.response.usage or {}
            tokens = f" in {usage.get('input_tokens')} out {usage.get('output_tokens')}"
            self.rows[span.row] = replace(
                row,
                end=t,
                items=(*row.items, *span.items),
                status="acked" if event.response.status == "completed" else "failed",
                detail=f"{event.response.status}; output: {', '.join(span.items) or 'none'}"
                + (f"; tokens{tokens}" if usage else ""),
                link=index,
            )


def _answers(event: se.ServerEvent) -> str:
    """The client event type a fifo-answered server event answers ('' for none)."""
    pairs: tuple[tuple[type[se.ServerEvent], type[ce.ClientEvent]], ...] = (
        (se.SessionUpdated, ce.SessionUpdate),
        (se.InputAudioBufferCommitted, ce.InputAudioBufferCommit),
        (se.InputAudioBufferCleared, ce.InputAudioBufferClear),
        (se.OutputAudioBufferCleared, ce.OutputAudioBufferClear),
    )
    for server, client in pairs:
        if isinstance(event, server):
            return str(client.model_fields["type"].default)
    if isinstance(event, se.ResponseDone) and event.response.status == "cancelled":
        return str(ce.ResponseCancel.model_fields["type"].default)
    return ""


def _client_items(event: object) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    """The item ids an op names, and the (what, item) key its answer is found by."""
    if isinstance(event, ce.ConversationItemCreate):
        item_id = getattr(event.item, "id", None)
        call_id = getattr(event.item, "call_id", None)  # an output names its call
        named = tuple(i for i in (item_id, call_id, event.previous_item_id) if i and i != ROOT)
        return named, ("create", item_id) if item_id else None
    if isinstance(event, ce.ConversationItemDelete):
        return (event.item_id,), ("delete", event.item_id)
    if isinstance(event, ce.ConversationItemTruncate):
        return (event.item_id,), ("truncate", event.item_id)
    if isinstance(event, ce.ConversationItemRetrieve):
        return (event.item_id,), ("retrieve", event.item_id)
    return (), None


def _server_items(event: se.ServerEvent) -> tuple[str, ...]:
    """Every item (and call) id a server event is about."""
    found: list[str] = []
    item = getattr(event, "item", None)
    for value in (
        getattr(item, "id", None),
        getattr(item, "call_id", None),
        getattr(event, "item_id", None),
        getattr(event, "previous_item_id", None),
        getattr(event, "call_id", None),
    ):
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    if isinstance(event, se.ErrorEvent):
        found.extend(_quoted(event.error.message))
    return tuple(found)


def _quoted(message: str) -> list[str]:
    """Ids a server error message quotes ('...'), so a refusal highlights its items."""
    parts = message.split("'")
    return [part for part in parts[1::2] if part and " " not in part]
