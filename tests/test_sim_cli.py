"""``accord sim serve``'s switches: the dialect, and server errors at a rate."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect

from accord.cli.main import app
from accord.cli.sim import sim_config
from accord.sim.config import REFUSABLE_KINDS
from sim_process import sim_serve

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
