"""``accord sim serve``'s switches: the dialect, and server errors at a rate."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accord.cli.main import app
from accord.cli.sim import sim_config
from accord.sim.config import REFUSABLE_KINDS
from accord.sim.server import EXPIRED_REASON, expired_reason
from sim_process import sim_serve, start_sim

runner = CliRunner()


def test_server_errors_and_their_kinds_reach_the_config() -> None:
    config = sim_config(server_errors=0.25, server_error_kinds="delete,response")
    assert config.server_errors.rate == 0.25
    assert config.server_errors.kinds == frozenset({"delete", "response"})
    default = sim_config()
    assert default.server_errors.rate == 0.0
    assert default.server_errors.kinds == frozenset(REFUSABLE_KINDS)
    assert default.dialect == "openai"
    assert sim_config(dialect="xai").dialect == "xai"


@pytest.mark.parametrize(
    "args",
    [
        ["--server-errors", "1.5"],
        ["--server-error-kinds", "create,teleport"],
        ["--dialect", "gemini"],
    ],
)
def test_bad_switches_are_refused_before_serving(args: list[str]) -> None:
    result = runner.invoke(app, ["sim", "serve", "--port", "0", *args])
    assert result.exit_code != 0
    assert "Invalid value" in result.output or "Error" in result.output


async def test_serve_refuses_deletes_with_server_error_at_rate_one() -> None:
    """Rate 1 on deletes only: every delete gets the real server_error, creates work."""
    with sim_serve("--server-errors", "1", "--server-error-kinds", "delete") as port:
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime") as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x"}],
            }
            await ws.send(
                json.dumps({"type": "conversation.item.create", "item": {**item, "id": "u1"}})
            )
            assert json.loads(await ws.recv())["type"] == "conversation.item.added"
            assert json.loads(await ws.recv())["type"] == "conversation.item.done"
            await ws.send(
                json.dumps({"type": "conversation.item.delete", "item_id": "u1", "event_id": "d1"})
            )
            err = json.loads(await ws.recv())
            assert err["type"] == "error"
            assert (err["error"]["code"], err["error"]["event_id"]) == ("server_error", "d1")


async def test_serve_as_azure_prints_and_serves_the_azure_path() -> None:
    with sim_serve("--dialect", "azure") as port:
        url = f"ws://127.0.0.1:{port}/openai/v1/realtime?api-version=2025-08-28&deployment=voice"
        async with connect(url, additional_headers={"api-key": "k"}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"


def _serve_once(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord.cli.main", "sim", "serve", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _serve_once("--port", str(port))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_one_line_and_exit_2(port: str) -> None:
    result = _serve_once("--port", port)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "0-65535" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def _log_of_one_session(*args: str) -> str:
    proc, port = start_sim(*args, stderr=subprocess.PIPE)
    try:

        async def one_session() -> None:
            url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
            async with connect(
                url, additional_headers={"Authorization": "Bearer sk-secret-1234"}
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                await ws.send("{not json")
                assert json.loads(await ws.recv())["type"] == "error"

        asyncio.run(one_session())
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    return err


def test_serve_logs_connections_and_closes_and_never_the_key() -> None:
    err = _log_of_one_session()
    assert "connected" in err and "sess_" in err, err
    assert "closed" in err, err
    assert "invalid_json" in err, err  # errors sent to a client are logged too
    assert "sk-secret-1234" not in err


def test_serve_quiet_logs_nothing_about_connections() -> None:
    err = _log_of_one_session("--quiet")
    assert "connected" not in err and "closed" not in err, err


def test_max_session_s_sets_the_cap_in_seconds_and_minutes_still_work() -> None:
    assert sim_config(max_session_s=2.5).session_max_seconds == 2.5
    assert sim_config(session_minutes=2).session_max_seconds == 120
    assert sim_config(session_minutes=2, max_session_s=7).session_max_seconds == 7
    with pytest.raises(ValueError):
        sim_config(max_session_s=0)


def test_the_close_reason_names_the_real_duration() -> None:
    assert expired_reason(3600) == EXPIRED_REASON
    assert expired_reason(60) == "Your session hit the maximum duration of 1 minute."
    assert expired_reason(1.5) == "Your session hit the maximum duration of 1.5 seconds."


async def test_serve_with_max_session_s_closes_with_1001_after_the_cap() -> None:
    with sim_serve("--max-session-s", "0.5") as port:
        started = time.monotonic()
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime") as ws:
            created = json.loads(await ws.recv())
            assert created["type"] == "session.created"
            assert created["session"]["expires_at"] <= time.time() + 1
            with pytest.raises(ConnectionClosed) as exc:
                while True:
                    await ws.recv()
        assert exc.value.rcvd is not None
        assert exc.value.rcvd.code == 1001
        assert exc.value.rcvd.reason == expired_reason(0.5)
        assert time.monotonic() - started < 5
