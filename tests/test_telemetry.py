"""OpenTelemetry spans and metrics of real sessions on the simulator, read back with the
SDK's in-memory exporter and reader (issue 21): the span tree of a tool turn, token
usage on the response, the push during the call as its own span, a reconnect's and a
resume's span, the two metrics, and nothing at all without the extra."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accord.agent import ToolStarted
from accord.demo.scenario import DemoConfig, run_demo
from accord.items import Message
from accord.journal import open_journal
from accord.session import RealtimeSession
from accord.sim.server import SimServer
from journal_support import QUESTION, TIMEOUT, Frozen, resume, run_turn, weather_agent

EXPORTER = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers() -> Iterator[None]:
    """The SDK as the global providers (OpenTelemetry allows setting them once); shut
    down after this module, so later tests' sessions export nothing."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(metric_readers=[READER])
    metrics.set_meter_provider(meter_provider)
    assert trace.get_tracer_provider() is tracer_provider
    yield
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture(autouse=True)
def fresh() -> None:
    """Each test reads only its own spans."""
    EXPORTER.clear()


def finished() -> list[ReadableSpan]:
    return list(EXPORTER.get_finished_spans())


def parent_of(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return None if span.parent is None else by_id.get(span.parent.span_id)


def points(name: str) -> list[Any]:
    data = READER.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_a_tool_turn_is_a_tree_session_response_tool_with_the_push_inside() -> None:
    # The demo's booking turn: book_table runs 0.25 s, and the summarizer and trimmer
    # push the moment it starts, while its call is in flight.
    result = asyncio.run(run_demo(DemoConfig(turns=6)))
    assert result.desyncs == 0
    done = finished()
    by_id = {s.context.span_id: s for s in done}
    sessions = [s for s in done if s.parent is None]
    assert len(sessions) == 1
    session = sessions[0]
    assert session.attributes is not None
    assert session.attributes["gen_ai.provider.name"] == "openai"
    assert session.attributes["gen_ai.request.model"] == "gpt-realtime"

    tools = [s for s in done if s.name == "execute_tool book_table"]
    assert len(tools) >= 2  # the demo books more than once in its first six turns

    # The one whose call a policy edited around (the trimmer, once it has turns to cut).
    def pushed_ops(t: Any) -> int:
        pushes = [s for s in done if s.name == "accord.push" and parent_of(s, by_id) is t]
        return sum(int(dict(s.attributes or {})["accord.push.sent"]) for s in pushes)

    tool = max(tools, key=pushed_ops)
    attrs = dict(tool.attributes or {})
    assert attrs["gen_ai.tool.name"] == "book_table"
    assert str(attrs["gen_ai.tool.call.id"]).startswith("call")
    assert attrs["accord.tool.outcome"] == "finished"
    assert tool.end_time is not None and tool.start_time is not None
    assert (tool.end_time - tool.start_time) / 1e9 >= 0.25  # the tool's own sleep

    response = parent_of(tool, by_id)
    assert response is not None and response.name.startswith("response")
    assert parent_of(response, by_id) is session
    rattrs = dict(response.attributes or {})
    assert str(rattrs["gen_ai.response.id"]).startswith("resp")
    assert rattrs["gen_ai.request.model"] == "gpt-realtime"
    assert isinstance(rattrs["gen_ai.usage.input_tokens"], int)
    assert isinstance(rattrs["gen_ai.usage.output_tokens"], int)
    assert rattrs["gen_ai.usage.output_tokens"] > 0

    during = [s for s in done if s.name == "accord.push" and parent_of(s, by_id) is tool]
    assert during, "the policies' push while the call ran is a span under the tool call"
    push = dict(during[0].attributes or {})
    assert push["accord.push.calls_running"] == 1
    for key in ("sent", "deferred", "aliased", "failed"):
        assert isinstance(push[f"accord.push.{key}"], int)
    # Whether the policies' edits wait for the call (deferred) or go out before the
    # tool returns (sent) is a matter of timing in the demo; the push below is not.
    assert all(s.end_time is not None for s in done)
    latencies = points("accord.push.latency")
    assert latencies and sum(p.count for p in latencies) >= len(during)


async def test_a_push_while_a_tool_runs_is_a_span_under_its_call_with_what_it_sent() -> None:
    gate = asyncio.Event()
    agent = weather_agent(idempotent=False, block=gate)
    async with (
        SimServer() as sim,
        RealtimeSession.connect(sim.url, api_key="sk-test", session=agent.session_config()) as s,
    ):
        runner = agent.start(s)
        events = runner.events()
        await runner.say(QUESTION)
        async with asyncio.timeout(TIMEOUT):
            async for event in events:
                if isinstance(event, ToolStarted):
                    break
        ctx = s.chat_ctx
        ctx.insert_after(None, Message(id="note1", role="system", content="Be brief."))
        report = await asyncio.wait_for(s.update_chat_ctx(ctx), TIMEOUT)
        gate.set()
        await runner.wait_idle(TIMEOUT)
        await runner.aclose()
    assert report.sent
    done = finished()
    by_id = {sp.context.span_id: sp for sp in done}
    (tool,) = [sp for sp in done if sp.name == "execute_tool get_weather"]
    (push,) = [
        sp
        for sp in done
        if sp.name == "accord.push"
        and dict(sp.attributes or {})["accord.push.id"] == report.push_id
    ]
    assert parent_of(push, by_id) is tool
    attrs = dict(push.attributes or {})
    assert attrs["accord.push.calls_running"] == 1
    assert attrs["accord.push.sent"] == len(report.sent) >= 1
    assert attrs["accord.push.failed"] == 0
    assert tool.start_time is not None and push.start_time is not None
    assert tool.end_time is not None and push.end_time is not None
    assert tool.start_time <= push.start_time and push.end_time <= tool.end_time


async def test_time_to_first_audio_is_measured_from_the_request() -> None:
    async with (
        SimServer() as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test", session={"output_modalities": ["audio"]}, seed=3
        ) as session,
    ):
        ctx = session.chat_ctx
        ctx.append(Message(id="u1", role="user", content="say something"))
        await session.update_chat_ctx(ctx)
        generation = await session.generate_reply()
        assert await asyncio.wait_for(generation.wait(), 10) == "completed"
    before = sum(p.count for p in points("accord.time_to_first_audio"))
    assert before >= 1
    response = next(s for s in finished() if s.name.startswith("response"))
    assert float(dict(response.attributes or {})["accord.time_to_first_audio"]) > 0


async def test_a_reconnect_is_a_span_ended_by_its_restore() -> None:
    async with (
        SimServer() as sim,
        RealtimeSession.connect(sim.url, api_key="sk-test", seed=4, backoff_initial=0.01) as s,
    ):
        ctx = s.chat_ctx
        ctx.append(Message(id="u1", role="user", content="remember me"))
        await s.update_chat_ctx(ctx)
        await sim.sessions[-1]._close(1011, "simulated connection drop")
        for _ in range(200):
            if any(sp.name == "accord.reconnect" for sp in finished()):
                break
            await asyncio.sleep(0.02)
    reconnect = next(sp for sp in finished() if sp.name == "accord.reconnect")
    assert dict(reconnect.attributes or {})["accord.reconnect.restored"] >= 1
    session = next(sp for sp in finished() if sp.parent is None)
    assert reconnect.parent is not None and reconnect.parent.span_id == session.context.span_id
    assert dict(session.attributes or {})["accord.session.reconnects"] == 1


@pytest.mark.parametrize(
    ("keep", "interrupted"),
    [(None, False), (8, True)],  # the whole turn journaled; a crash while the tool ran
    ids=["after-the-turn", "tool-running-at-the-crash"],
)
async def test_a_resume_is_a_span_of_the_new_session_ended_by_its_restore(
    tmp_path: Any, keep: int | None, interrupted: bool
) -> None:
    inner = open_journal(f"sqlite:///{tmp_path / 'j.db'}")
    async with SimServer() as sim:
        writing = inner if keep is None else Frozen(inner, keep)
        key = await run_turn(sim, writing)  # type: ignore[arg-type]
        EXPORTER.clear()
        resumed = await resume(sim, inner, key)
    assert bool(resumed.interrupted) is interrupted
    done = finished()
    (span,) = [sp for sp in done if sp.name == "accord.resume"]
    (session,) = [sp for sp in done if sp.parent is None]
    assert span.parent is not None and span.parent.span_id == session.context.span_id
    attrs = dict(span.attributes or {})
    assert attrs["accord.resume.restored"] == resumed.restored >= 1
    assert attrs["accord.resume.lost"] == 0
    assert tuple(attrs["accord.resume.interrupted"]) == resumed.interrupted  # type: ignore[arg-type]
    assert tuple(attrs["accord.resume.rerun"]) == resumed.rerun  # type: ignore[arg-type]
    assert span.status.is_ok
    # The restore is acknowledged before the resumed session's first response.
    responses = [sp for sp in done if sp.name.startswith("response")]
    assert span.end_time is not None
    assert all(r.start_time is not None and span.end_time <= r.start_time for r in responses)


def test_without_the_extra_nothing_of_opentelemetry_is_imported() -> None:
    script = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
from accord.demo.scenario import DemoConfig, run_demo
from accord import telemetry
assert not telemetry.available()
result = asyncio.run(run_demo(DemoConfig(turns=2)))
assert result.desyncs == 0
loaded = [m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m] is not None]
assert not loaded, loaded
assert "accord.telemetry.otel" not in sys.modules
print("ok")
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")
