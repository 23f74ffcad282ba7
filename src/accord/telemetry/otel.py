"""A session's spans and metrics, through OpenTelemetry's global providers.

The tree: one span per session; under it one per response (``gen_ai.response.id``,
request and response model, usage tokens); one per tool call (``execute_tool {name}``)
under the response that asked for it; one per context push (what was sent, deferred,
aliased and failed) under the tool call running when it was pushed (a policy pushing
during a call) or else under the session; one per reconnect and one per resume of a
journaled session, each ended by its restore.
Attribute names follow the OpenTelemetry GenAI semantic conventions where they exist,
``accord.*`` otherwise. Metrics: the time from a request (``response.create`` sent or
the user's speech stopped) to the response's first audio, and each push's latency.

Everything is read from what the session core already tells its listeners (observers,
effects, events) plus the frames the session moves, decoded by the protocol package,
so the session has four small call sites and no decision depends on telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from accord.client import events as app
from accord.client.core import SessionCore
from accord.engine import events as ev
from accord.protocol import server_events as se
from accord.protocol.client_events import ResponseCreate
from accord.protocol.codec import UnknownEvent, parse_client_event, parse_server_event, type_names
from accord.protocol.errors import ProtocolError
from accord.protocol.fast import peek_delta, peek_type

INSTRUMENTATION = "accord"
PROVIDER = "openai"  # gen_ai.provider.name: the Realtime API's (Azure speaks it too)
AUDIO_DELTA_TYPES = frozenset(type_names(se.ResponseOutputAudioDelta))
#: Server events the spans are built from; every other frame is skipped unparsed.
WATCHED = (
    se.SessionCreated,
    se.SessionUpdated,
    se.ResponseCreated,
    se.ResponseDone,
    se.InputAudioBufferSpeechStopped,
)
WATCHED_TYPES = frozenset(name for cls in WATCHED for name in type_names(cls))
REQUEST_TYPES = frozenset(type_names(ResponseCreate))


@dataclass
class _Push:
    span: Span
    started: float


class SessionTelemetry:
    """Listens to one session core and turns what it tells into spans and metrics."""

    def __init__(self, core: SessionCore, *, url: str) -> None:
        self._core = core
        self._tracer = trace.get_tracer(INSTRUMENTATION)
        meter = metrics.get_meter(INSTRUMENTATION)
        self._first_audio = meter.create_histogram(
            "accord.time_to_first_audio",
            unit="s",
            description="From a request (response.create sent, or speech stopped) to the "
            "response's first audio delta",
        )
        self._push_latency = meter.create_histogram(
            "accord.push.latency",
            unit="s",
            description="From a context push to its report (every operation resolved)",
        )
        parsed = urlparse(url)
        models = parse_qs(parsed.query).get("model")
        self.model: str | None = models[0] if models else None
        self._response_model: str | None = None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "realtime",
            "gen_ai.provider.name": PROVIDER,
            "server.address": parsed.hostname or "",
        }
        if self.model:
            attributes["gen_ai.request.model"] = self.model
        self.session = self._tracer.start_span(
            f"realtime {self.model or ''}".strip(), kind=SpanKind.CLIENT, attributes=attributes
        )
        self._responses: dict[str, Span] = {}
        self._ended: dict[str, Span] = {}  # finished responses, parents of later tool spans
        self._requested: float | None = None  # when the next response was asked for
        self._awaiting_audio: dict[str, float] = {}  # response id -> its request time
        self._calls: dict[str, tuple[str, str | None]] = {}  # call id -> (tool, response)
        self._tools: dict[str, Span] = {}
        self._pushes: dict[str, _Push] = {}
        self._reconnect: Span | None = None
        self._resume: Span | None = None
        self._attach(core)

    # -- listening ----------------------------------------------------------------------

    def _attach(self, core: SessionCore) -> None:
        core.observers.append(self._observe)
        on_effect, on_event = core._on_effect, core._on_event

        def effect(item: ev.Effect) -> None:
            self._effect(item)
            on_effect(item)

        def event(item: app.SessionEvent) -> None:
            self._event(item)
            on_event(item)

        core._on_effect, core._on_event = effect, event

    def _context(self, span: Span) -> Any:
        return trace.set_span_in_context(span)

    def _observe(self, what: str, details: dict[str, Any]) -> None:
        now = self._core.now
        if what == "push":
            running = list(self._tools.values())
            parent = running[-1] if running else self.session
            ctx = details["ctx"]
            base = ctx.base
            span = self._tracer.start_span(
                "accord.push",
                context=self._context(parent),
                attributes={
                    "accord.push.id": str(details["push_id"]),
                    "accord.push.items": len(ctx.items),
                    "accord.push.base_version": -1 if base is None else base.version,
                    "accord.push.explicit_replace": bool(details["explicit_replace"]),
                    "accord.push.calls_running": len(running),
                },
            )
            self._pushes[str(details["push_id"])] = _Push(span, now)
        elif what == "tool":
            self._tool(str(details["call_id"]), str(details["event"]))
        elif what == "connection_lost" and self._reconnect is None:
            self._reconnect = self._tracer.start_span(
                "accord.reconnect", context=self._context(self.session)
            )
        elif what == "resume":
            self._resume = self._tracer.start_span(
                "accord.resume", context=self._context(self.session)
            )

    def _tool(self, call_id: str, event: str) -> None:
        if event == "started":
            # Read once: a call's tool starts once, so the entry is not kept after.
            name, response = self._calls.pop(call_id, ("unknown", None))
            parent = self._responses.get(response or "") or self._ended.get(response or "")
            self._tools[call_id] = self._tracer.start_span(
                f"execute_tool {name}",
                context=self._context(parent or self.session),
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": call_id,
                    "gen_ai.tool.type": "function",
                },
            )
            return
        span = self._tools.pop(call_id, None)
        if span is None:
            return
        span.set_attribute("accord.tool.outcome", event)
        if event == "abandoned":
            span.set_status(Status(StatusCode.ERROR, "abandoned"))
        span.end()

    def _effect(self, effect: ev.Effect) -> None:
        if isinstance(effect, ev.PushDone):
            self._push_done(effect.report)
        elif isinstance(effect, ev.Reconnected) and self._reconnect is not None:
            self._reconnect.set_attribute("accord.reconnect.restored", effect.restored)
            self._reconnect.set_attribute("accord.reconnect.lost", len(effect.lost))
            self._reconnect.end()
            self._reconnect = None
        elif isinstance(effect, ev.Resumed) and self._resume is not None:
            span, self._resume = self._resume, None
            span.set_attribute("accord.resume.restored", effect.restored)
            span.set_attribute("accord.resume.lost", len(effect.lost))
            span.set_attribute("accord.resume.rerun", list(effect.rerun))
            span.set_attribute("accord.resume.interrupted", list(effect.interrupted))
            if effect.lost:
                span.set_status(Status(StatusCode.ERROR, f"{len(effect.lost)} item(s) lost"))
            span.end()
        elif isinstance(effect, ev.OutputFailed):
            self.session.add_event(
                "accord.tool.output_failed",
                {"gen_ai.tool.call.id": effect.call_id, "error.type": effect.code or "unknown"},
            )

    def _push_done(self, report: ev.PushReport) -> None:
        push = self._pushes.pop(report.push_id, None)
        if push is None:
            return
        span = push.span
        for name, value in (
            ("sent", report.sent),
            ("deferred", report.deferred),
            ("aliased", report.aliased),
            ("failed", report.failed),
        ):
            span.set_attribute(f"accord.push.{name}", len(value))
        if report.failed:
            span.set_status(Status(StatusCode.ERROR, f"{len(report.failed)} operation(s) failed"))
        span.end()
        outcome = "failed" if report.failed else "ok"
        self._push_latency.record(
            max(0.0, self._core.now - push.started), {"accord.push.outcome": outcome}
        )

    def _event(self, event: app.SessionEvent) -> None:
        if isinstance(event, app.FunctionCallReady):
            self._calls[event.call.call_id] = (event.call.name, event.response_id)
            while len(self._calls) > 64:  # calls whose tool never started (abandoned)
                self._calls.pop(next(iter(self._calls)))

    # -- frames -------------------------------------------------------------------------

    def frame_out(self, frame: str) -> None:
        """A client frame sent: a ``response.create`` starts the wait for audio."""
        if peek_type(frame) not in REQUEST_TYPES:
            return
        try:
            if isinstance(parse_client_event(frame), ResponseCreate):
                self._requested = self._core.now
        except ProtocolError:
            return

    def frame_in(self, frame: str | bytes, parsed: se.ServerEvent | None = None) -> None:
        """A server frame received (parsed only when it matters to a span; ``parsed``:
        the session core's typed event of this very frame, when it made one)."""
        if isinstance(frame, bytes):
            return
        kind = peek_type(frame)
        if kind in AUDIO_DELTA_TYPES:
            self._audio(frame)
            return
        if kind not in WATCHED_TYPES:
            return
        if isinstance(parsed, WATCHED):
            self._server(parsed)
            return
        try:
            event = parse_server_event(frame)
        except ProtocolError:
            return
        if isinstance(event, UnknownEvent):
            return
        self._server(event)

    def _server(self, event: se.ServerEvent) -> None:
        now = self._core.now
        if isinstance(event, se.SessionCreated | se.SessionUpdated):
            model = event.session.get("model")
            if isinstance(model, str):
                self._response_model = model
        elif isinstance(event, se.InputAudioBufferSpeechStopped):
            self._requested = now
        elif isinstance(event, se.ResponseCreated):
            rid = event.response.id
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "realtime",
                "gen_ai.response.id": rid,
            }
            if self.model:
                attributes["gen_ai.request.model"] = self.model
            self._responses[rid] = self._tracer.start_span(
                f"response {self.model or ''}".strip(),
                context=self._context(self.session),
                attributes=attributes,
            )
            self._awaiting_audio[rid] = now if self._requested is None else self._requested
            self._requested = None
        elif isinstance(event, se.ResponseDone):
            self._response_done(event.response)

    def _response_done(self, response: se.WireResponse) -> None:
        span = self._responses.pop(response.id, None)
        self._awaiting_audio.pop(response.id, None)
        if span is None:
            return
        span.set_attribute("gen_ai.response.finish_reasons", [response.status])
        if self._response_model:
            span.set_attribute("gen_ai.response.model", self._response_model)
        usage = response.usage or {}
        for key in ("input_tokens", "output_tokens"):
            if isinstance(usage.get(key), int):
                span.set_attribute(f"gen_ai.usage.{key}", usage[key])
        if response.status == "failed":
            span.set_status(Status(StatusCode.ERROR, "response failed"))
        span.end()
        self._ended[response.id] = span
        while len(self._ended) > 64:  # only recent ones can still parent a tool call
            self._ended.pop(next(iter(self._ended)))

    def _audio(self, frame: str) -> None:
        delta = peek_delta(frame)
        if delta is None:
            return
        rid = delta[1]
        started = self._awaiting_audio.pop(rid, None)
        if started is None:
            return
        seconds = max(0.0, self._core.now - started)
        self._first_audio.record(seconds, {"gen_ai.request.model": self.model or ""})
        span = self._responses.get(rid)
        if span is not None:
            span.set_attribute("accord.time_to_first_audio", seconds)

    # -- the end ------------------------------------------------------------------------

    def close(self, reconnects: int = 0) -> None:
        """End every span still open, the session's last."""
        for span in [*self._tools.values(), *self._responses.values()]:
            span.set_status(Status(StatusCode.ERROR, "the session closed first"))
            span.end()
        for push in self._pushes.values():
            push.span.set_status(Status(StatusCode.ERROR, "the session closed first"))
            push.span.end()
        for pending in (self._reconnect, self._resume):
            if pending is not None:
                pending.set_status(Status(StatusCode.ERROR, "no restore before the end"))
                pending.end()
        self._reconnect = self._resume = None
        self._tools.clear()
        self._responses.clear()
        self._pushes.clear()
        self.session.set_attribute("accord.session.reconnects", reconnects)
        self.session.end()
