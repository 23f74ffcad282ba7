"""The strategies a verifier can run by name: accord's engine and the naive one.

The runtime takes a :class:`~accord.engine.interface.Strategy` value and never looks one
up by name, so the naive strategy (which exists only to be caught) cannot be reached from
production code. The tools that compare the two (``accord demo``, ``explore``, ``stress``,
``replay`` and the tests) name them on their command lines and in their files; this
registry turns those names into strategies.
"""

from __future__ import annotations

from accord.engine.config import EngineConfig
from accord.engine.interface import ACCORD, Client, Strategy
from accord.verify.naive import NaiveClient


def _naive(config: EngineConfig, seed: int | None) -> Client:
    # The naive strategy has no rules, capabilities or timeouts to configure.
    return NaiveClient(seed=seed)


NAIVE = Strategy("naive", _naive)
"""LiveKit Agents 1.8.9's two-copies-and-diff algorithm, to show what accord fixes."""

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (ACCORD, NAIVE)}
"""Every strategy a command line or a saved file may name."""


def strategy_named(name: str) -> Strategy:
    """The strategy called ``name``; a ValueError names the ones there are, so a CLI can
    pass it on as a usage error."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}: {' or '.join(STRATEGIES)}") from None


def make_strategy(name: str, config: EngineConfig, seed: int | None) -> Client:
    """A fresh client of the strategy called ``name`` (the pair harness builds one per
    run, from the name its scenario or test gives)."""
    return strategy_named(name).build(config, seed)
