"""The session's core, sans-I/O at the frame level: frames and local calls in, frames out.

Everything a session decides happens here, synchronously, with ``now`` as an input:
server frames are parsed and turned into engine inputs (:mod:`accord.client.inbound`),
local calls go to the engine, and the engine's effects become client frames and
application events. The asyncio shell (:mod:`accord.session`) only moves frames and
wakes waiters; a replay (:mod:`accord.verify.replay`) drives this same core from a
trace and must get byte-identical frames out.
"""

from __future__ import annotations

import base64
import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from accord.client import events as app
from accord.client import inbound
from accord.client import streaming as st
from accord.client.frames import op_frame
from accord.client.streaming import TextDelta
from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.engine import SyncEngine
from accord.engine.interface import ACCORD, Client, Strategy
from accord.engine.resume import ResumeInput
from accord.errors import LocalProtocolError
from accord.items import ChatContext, Item
from accord.protocol import (
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    RemoteProtocolError,
    UnknownEvent,
    encode,
    parse_server_event,
)
from accord.protocol.client_events import ClientEvent
from accord.protocol.error_codes import FRAME_TOO_LARGE
from accord.protocol.fast import (
    AUDIO_DELTA,
    ITEM_ADDED,
    decode_item_ack,
    decode_output_delta,
)
from accord.protocol.server_events import ServerEvent
from accord.truncation import truncation_of

log = logging.getLogger("accord.session")

AUDIO_CHUNK_BYTES = 96_000  # 2 s of PCM16 at 24 kHz per input_audio_buffer.append
# The largest frame the client sends. The real server's limit is not documented; the
# simulator refuses frames over 15 MiB (SimConfig.max_event_bytes, assumed).
MAX_CLIENT_FRAME_BYTES = 15 * 1024 * 1024
SERVER_AUDIO_SHORTFALL_MS = 85  # the server may hold ~85 ms less than the client received


_record = tuple.__new__


class SessionCore:
    """One session's decisions, fed frames and calls, returning frames to send."""

    def __init__(
        self,
        *,
        engine_config: EngineConfig | None = None,
        seed: int | None = None,
        session_config: dict[str, Any] | None = None,
        on_event: Callable[[app.SessionEvent], None] = lambda _e: None,
        on_effect: Callable[[ev.Effect], None] = lambda _e: None,
        on_stream: Callable[[st.StreamEvent], None] = lambda _e: None,
        strategy: Strategy = ACCORD,
        max_frame_bytes: int = MAX_CLIENT_FRAME_BYTES,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        # Fix: a deep copy (update_session merged nested "audio" settings into the
        # caller's own dict).
        self.session_config: dict[str, Any] = copy.deepcopy(session_config or {})
        # Fix: a refused update_session's fields stayed merged in session_config and went
        # out again with every reconnect's configuration, which the server then refused
        # whole. session_config is the accepted configuration plus the updates not yet
        # answered; a refused update's fields are dropped from it.
        self._accepted_config: dict[str, Any] = copy.deepcopy(self.session_config)
        self._unanswered_fields: dict[str, dict[str, Any]] = {}
        # Always toggle VAD around a restore: the server's default session has it on.
        config = engine_config or EngineConfig(server_vad=True)
        self.engine: Client = strategy.build(config, seed)
        self.observers: list[Callable[[str, dict[str, Any]], None]] = []
        self._on_event = on_event
        self._on_effect = on_effect
        self._on_stream = on_stream
        self._out: list[str] = []
        self.session_info: dict[str, Any] = {}
        self.server_turn_detection: Any = None  # session.created's (the server's default)
        self.sync_truncation()
        # Open responses -> the event id of our response.create (None: the server's VAD).
        # Their streams are the shell's (accord.client.generation.Generations).
        self.responses: dict[str, str | None] = {}
        self.out_of_band_requests: set[str] = set()
        self.out_of_band_items: dict[str, list[str]] = {}
        self.audio_received: dict[str, int] = {}
        self.last_audio_item: str | None = None
        self._connected = True  # False from a drop until connected_again
        self._event_counter = 0
        self._seed = seed
        self._parsed: ServerEvent | None = None

    # -- frames -------------------------------------------------------------------------

    def receive_frame(self, frame: str | bytes, now: float) -> list[str]:
        """A server frame: parse it, act on it, return the client frames to send."""
        self.now = now
        self._parsed = None
        delta = decode_output_delta(frame) if type(frame) is str else None
        if delta is not None:  # the bulk of a reply's frames, read without a model
            if delta.kind == AUDIO_DELTA:
                inbound.streamed_audio(self, delta.response_id, delta.item_id, delta.delta)
            elif delta.response_id in self.responses:  # else no stream wants it (as below)
                # tuple.__new__: half the cost of the named tuple's own __new__.
                record = (delta.response_id, delta.item_id, delta.delta, delta.modality)
                self._on_stream(_record(TextDelta, record))
            return self._take()
        fast = decode_item_ack(frame) if isinstance(frame, str) else None
        if fast is not None:  # the bulk of a large push's acknowledgements
            kind, previous, item = fast
            if kind == ITEM_ADDED:
                inbound.added(self, item, previous)
            else:
                inbound.done(self, item)
            return self._take()
        try:
            event = parse_server_event(frame)
        except RemoteProtocolError as exc:
            self.notice(f"malformed server event ignored: {exc}")
            return self._take()
        if isinstance(event, UnknownEvent):
            log.debug("unknown server event type %r ignored", event.type)
            return self._take()
        handler = inbound.HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        self._parsed = event
        return self._take()

    def take_parsed(self) -> ServerEvent | None:
        """The typed event of the frame :meth:`receive_frame` just parsed in full (None
        when it took a fast path or ignored it), once: a listener of the same frame
        (telemetry) reads it instead of parsing the frame again."""
        event, self._parsed = self._parsed, None
        return event

    def _take(self) -> list[str]:
        # The kept list stays the same object: a fresh one per frame and per tick lived
        # until the next, long enough to be promoted by the collector, many times a second.
        out = self._out
        if not out:
            return []
        taken = out.copy()
        out.clear()
        return taken

    def send_event(self, event: ClientEvent) -> None:
        self._out.append(encode(event))

    def next_event_id(self, prefix: str = "evt") -> str:
        self._event_counter += 1
        return f"{prefix}_c{self._event_counter}"

    # -- used by the inbound handlers ---------------------------------------------------

    def feed(self, event: ev.ServerInput) -> None:
        self.apply(self.engine.receive(event, self.now))

    def app(self, event: app.SessionEvent) -> None:
        self._on_event(event)

    def stream(self, event: st.StreamEvent) -> None:
        self._on_stream(event)

    def notice(self, text: str) -> None:
        log.info("%s", text)
        self._on_event(app.Notice(text))

    def _update_answered(self, effect: ev.OpResolved) -> None:
        """An ``update_session``'s answer (the engine resolves it: engine/configure.py):
        accepted, its fields join the accepted configuration; refused, they leave the
        kept one, which otherwise went out again with every reconnect's configuration
        and was refused whole. Unknown (no answer in time): they stay kept."""
        fields = self._unanswered_fields.get(effect.event_id)
        if fields is None or effect.status == "unknown":
            return
        del self._unanswered_fields[effect.event_id]
        if effect.status == "success":
            _merge_config(self._accepted_config, fields)
        else:
            self._rebuild_config()

    def _rebuild_config(self) -> None:
        config = copy.deepcopy(self._accepted_config)
        for fields in self._unanswered_fields.values():
            _merge_config(config, copy.deepcopy(fields))
        self.session_config = config
        self.sync_truncation()

    def sync_truncation(self) -> None:
        """Tell the engine how the server truncates: the configured ``truncation``, else
        the one the server reported, else its default (``auto``)."""
        setting = self.session_config.get("truncation", self.session_info.get("truncation"))
        self.engine.set_truncation(truncation_of(setting))

    # -- engine effects -> frames and events --------------------------------------------

    def apply(self, effects: Sequence[ev.Effect]) -> None:
        refused: list[ev.ServerError] = []
        for effect in effects:
            if isinstance(effect, ev.Send):
                frame = self._frame(effect.op)
                if len(frame) * 4 > self.max_frame_bytes and _size(frame) > self.max_frame_bytes:
                    # Never sent: a frame the server cannot take would be refused (or close
                    # the connection, and a restore would send it again, forever).
                    limit = self.max_frame_bytes
                    refused.append(_too_large(effect.op.event_id, _size(frame), limit))
                    continue
                self._out.append(frame)
            elif isinstance(effect, _PASSED_ON):
                self.app(effect)
            elif isinstance(effect, ev.OutputFailed):
                log.warning(
                    "the output of tool call %s was not delivered (%s: %s): the user's "
                    "request is left unanswered",
                    effect.call_id,
                    effect.code,
                    effect.message,
                )
                self.app(effect)
            elif isinstance(effect, ev.Notice):
                log.info("%s", effect.text)
                self.app(effect)
            elif isinstance(effect, ev.OpResolved) and self._unanswered_fields:
                self._update_answered(effect)
            self._on_effect(effect)
        for refusal in refused:
            self.notice(refusal.message)
            self.feed(refusal)

    def _frame(self, op: ev.ClientOp) -> str:
        """The client frame for an engine operation (accord.client.frames, shared with
        the explorer's pair)."""
        turn = self._known_turn_detection() if isinstance(op, ev.UpdateSession) else None
        return op_frame(op, turn)

    def _known_turn_detection(self) -> Any:
        """The turn detection to put back after a restore: the configured one, else the
        one the server reported."""
        if "turn_detection" in self.session_config.get("audio", {}).get("input", {}):
            return _turn_detection(self.session_config)
        return self.server_turn_detection

    # -- local calls (each returns the frames to send) ----------------------------------

    def push(self, ctx: ChatContext, now: float, *, explicit_replace: bool = False) -> str:
        self.now = now
        current = self.engine.context()
        push_id, effects = self.engine.push(ctx, now, explicit_replace=explicit_replace)
        self._observe(
            "push", push_id=push_id, ctx=ctx, current=current, explicit_replace=explicit_replace
        )
        self.apply(effects)
        return push_id

    def _observe(self, what: str, **details: Any) -> None:
        """Tell observers (an audit, the demo's checker log) what was decided."""
        for observer in self.observers:
            observer(what, details)

    def generate_reply(self, now: float, **kwargs: Any) -> str:
        self.now = now
        event_id, effects = self.engine.generate_reply(now, **kwargs)
        if kwargs.get("out_of_band"):
            self.out_of_band_requests.add(event_id)
        self.apply(effects)
        return event_id

    def interrupt(
        self,
        now: float,
        played_ms: int | None = None,
        *,
        item_id: str | None = None,
        truncate: bool = True,
    ) -> None:
        """Barge-in on the assistant audio being played: truncate it where it was heard
        (clamped below what was received, as the server may hold ~85 ms less).

        ``item_id`` names the audio item to cut (default: the last one received);
        ``truncate=False`` only cancels the response, for a caller that truncates later
        with the position it played (LiveKit's ``interrupt`` and ``truncate``)."""
        self.now = now
        if not truncate:
            self.apply(self.engine.interrupt(now))
            return
        item_id = item_id or self.last_audio_item
        heard: int | None = None
        if item_id is not None:
            received_ms = self.audio_received.get(item_id, 0) // inbound.BYTES_PER_MS
            ceiling = max(0, received_ms - SERVER_AUDIO_SHORTFALL_MS)
            heard = ceiling if played_ms is None else max(0, min(played_ms, ceiling))
        self.apply(self.engine.interrupt(now, item_id=item_id, played_ms=heard))
        self.last_audio_item = None

    def tool_started(self, call_id: str, now: float) -> None:
        self.now = now
        self._observe("tool", call_id=call_id, event="started")
        self.apply(self.engine.tool_started(call_id, now))

    def tool_finished(self, call_id: str, output: str, now: float) -> None:
        self.now = now
        self._observe("tool", call_id=call_id, event="finished")
        self.apply(self.engine.tool_finished(call_id, output, now))

    def tool_abandoned(self, call_id: str, now: float, *, delete: bool = True) -> None:
        self.now = now
        self._observe("tool", call_id=call_id, event="abandoned")
        self.apply(self.engine.tool_abandoned(call_id, now, delete=delete))

    def tick(self, now: float) -> None:
        self.now = now
        self.apply(self.engine.tick(now))

    def update_session(self, fields: dict[str, Any], now: float) -> str:
        """``session.update`` with ``fields`` merged into the kept configuration."""
        self.now = now
        _merge_config(self.session_config, copy.deepcopy(fields))
        self.sync_truncation()
        # An op of the ledger like any other (engine/configure.py). Between a drop and the
        # reconnect it is not sent (the frame would die with the socket): the merged
        # configuration goes out with the next connection, which answers this call.
        event_id, effects = self.engine.update_session(copy.deepcopy(fields), now)
        self._unanswered_fields[event_id] = copy.deepcopy(fields)
        self.apply(effects)
        return event_id

    def configure_after_connect(self, now: float, *, restoring: bool) -> None:
        """Send the kept configuration on a new connection (VAD off while restoring)."""
        if not self.session_config and not self._unanswered_fields:
            return  # nothing to configure, no update carried across a drop to answer
        fields = copy.deepcopy(self.session_config)
        if restoring and "audio" in fields:
            fields = _with_turn_detection(fields, None)  # the engine turns it back on
        # The kept configuration holds every update_session the drop carried: the
        # engine resolves them with this one's answer.
        _event_id, effects = self.engine.update_session(fields, now, configuration=True)
        self.apply(effects)

    def push_audio(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), AUDIO_CHUNK_BYTES):
            chunk = base64.b64encode(pcm[start : start + AUDIO_CHUNK_BYTES]).decode("ascii")
            self.send_event(InputAudioBufferAppend(event_id=self.next_event_id("aud"), audio=chunk))

    def commit_audio(self) -> None:
        self.send_event(InputAudioBufferCommit(event_id=self.next_event_id("aud")))

    def clear_audio(self) -> None:
        self.send_event(InputAudioBufferClear(event_id=self.next_event_id("aud")))

    @property
    def connected(self) -> bool:
        """False from a drop until :meth:`connected_again`."""
        return self._connected

    def connection_lost(self, now: float) -> None:
        self.now = now
        self.apply(self.engine.connection_lost(now))
        open_responses, self.responses = self.responses, {}
        for response_id in list(self.out_of_band_items):
            inbound.forget_out_of_band(self, response_id)
        for response_id in open_responses:  # no response.done will come for them
            self._on_stream(st.ResponseEnded(response_id, "failed"))
        self._connected = False
        # An audit judging the run against the simulator starts a new segment here: the
        # old server's store is final, the engine's projected state is frozen (at_drop).
        self._observe("connection_lost")

    def connected_again(self, now: float) -> None:
        self.now = now
        self._connected = True
        self.configure_after_connect(now, restoring=True)
        self.apply(self.engine.connected_again(now))

    def resume(self, plan: ResumeInput, now: float) -> None:
        """A journaled conversation into this new, empty server session (docs/journal.md):
        the kept configuration (VAD off while restoring), then the engine's restore."""
        self.now = now
        if not isinstance(self.engine, SyncEngine):
            raise LocalProtocolError("resuming a journal needs accord's engine (ACCORD)")
        self._observe("resume")
        self.configure_after_connect(now, restoring=True)
        self.apply(self.engine.resume(plan, now))

    def frames(self) -> list[str]:
        """Frames produced by local calls since the last call."""
        return self._take()


def response_input(
    given: Sequence[Item | str] | None, item_ids: Sequence[str]
) -> tuple[Item | str, ...]:
    """``generate_reply``'s ``input`` (ids and items) or its older ``input_items`` (ids),
    checked before anything is sent: a wrong entry is the caller's error, not a refusal
    from the server later."""
    if given is not None and item_ids:
        raise TypeError("generate_reply takes input or input_items, not both")
    context = tuple(given) if given is not None else tuple(item_ids)
    for entry in context:
        if not isinstance(entry, str | Item):
            kind = type(entry).__name__
            raise TypeError(f"generate_reply input takes item ids and items, not {kind}")
    return context


# The engine's events that are the application's too, passed on as they are.
_PASSED_ON = (
    ev.FunctionCallReady,
    ev.CallOrphaned,
    ev.ContextSynced,
    ev.Reconnected,
    ev.Resumed,
    ev.ItemsEvicted,
)


def _size(frame: str) -> int:
    return len(frame.encode("utf-8", "replace"))


def _too_large(event_id: str, size: int, limit: int) -> ev.ServerError:
    return ev.ServerError(
        FRAME_TOO_LARGE,
        f"not sent: the event is {size} bytes, over the limit of {limit} bytes "
        "(SessionOptions.max_frame_bytes)",
        event_id,
    )


def _turn_detection(config: dict[str, Any]) -> Any:
    return config.get("audio", {}).get("input", {}).get("turn_detection")


def _with_turn_detection(config: dict[str, Any], value: Any) -> dict[str, Any]:
    audio = dict(config.get("audio", {}))
    audio["input"] = {**audio.get("input", {}), "turn_detection": value}
    return {**config, "audio": audio}


def _merge_config(kept: dict[str, Any], fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key == "audio" and isinstance(value, dict):
            audio = kept.setdefault("audio", {})
            for side, settings in value.items():
                audio.setdefault(side, {}).update(settings or {})
        else:
            kept[key] = value
