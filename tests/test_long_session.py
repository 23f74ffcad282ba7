"""`accord bench long-session` runs and reports its slopes (no figure is asserted: the
growth itself is checked by the engine's and the policies' own tests)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from accord.bench.long_session import slope
from accord.cli.main import app


def test_the_slope_is_the_least_squares_growth_per_turn() -> None:
    assert slope([(0, 10), (10, 30), (20, 50)]) == 2.0
    assert slope([(0, 5), (10, 5)]) == 0.0
    assert slope([(3, 7)]) == 0.0


def test_long_session_quick_reports_both_policies() -> None:
    result = CliRunner().invoke(app, ["bench", "long-session", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["benchmark"] == "long-session"
    policies = [r["policy"] for r in data["results"]]
    assert policies == ["keep-last-turns", "summarize-older"]
    for r in data["results"]:
        assert r["turns"] == 30 and len(r["samples"]) == 5
        assert {"bytes_per_turn", "objects_per_turn", "items_per_turn"} <= r.keys()
