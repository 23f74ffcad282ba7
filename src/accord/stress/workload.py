"""One session's workload: the agent (tools and a context policy) and the user's turns.

Each stress session is the whole stack a voice-agent developer runs: an
:class:`~accord.agent.Agent` with three tools (an instant one, a medium one, and a slow
one that returns a card number) and a context policy that pushes every few replies,
driven by a user who types (or speaks) one turn after another. The slow tool keeps calls
in flight while the policy pushes, and a turn that names two tools gets parallel calls:
the races of docs/races.md happen by themselves, many times a second.

Everything here follows from the session's seed, so a run is repeatable up to the
scheduling of the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accord.agent import Agent
from accord.policies import ContextPolicy, KeepLastTurns, RedactToolOutputs, SummarizeOlder
from accord.sim import audio
from accord.sim.session_config import SERVER_VAD
from accord.stress.config import PolicyMix, StressConfig
from accord.tools import FunctionTool, function_tool

CITIES = ("Paris", "Lisbon", "Oslo", "Kyoto", "Lima")
MEDIUM_TOOL_MS = (30.0, 120.0)
INSTRUCTIONS = "You are a travel concierge. Use the tools for weather, trains and bookings."
POLICY_KINDS: tuple[PolicyMix, ...] = ("keep", "summarize", "redact")
SPOKEN_SILENCE_MS = 700  # after the words: longer than the VAD's 500 ms, so the turn ends


@functools.cache
def make_tools(slow_ms: tuple[float, float], seed: int) -> tuple[FunctionTool, ...]:
    """The tools, built once per process (a tool's schema is a pydantic model, costly to
    build a thousand times); their durations come from one seeded generator."""
    rng = random.Random(seed)

    @function_tool
    async def get_weather(city: str) -> str:
        """Current weather for a city (instant).

        Args:
            city: the city's name
        """
        return f"{city[:24]}: 18C, light wind"

    @function_tool
    async def find_train(city: str) -> dict[str, object]:
        """The next train to a city (a short lookup).

        Args:
            city: where to
        """
        await asyncio.sleep(rng.uniform(*MEDIUM_TOOL_MS) / 1000.0)
        return {"to": city[:24], "departs": "18:40", "platform": 4}

    @function_tool(timeout=10.0)
    async def book_table(people: int, time: str) -> dict[str, object]:
        """Book a restaurant table (slow: it calls the restaurant).

        Args:
            people: how many guests
            time: when, e.g. 20:00
        """
        await asyncio.sleep(rng.uniform(*slow_ms) / 1000.0)
        return {"booked": True, "people": people, "card": "4111 1111 1111 1111"}

    return (get_weather, find_train, book_table)


def policy_kind(config: StressConfig, index: int) -> PolicyMix:
    """The "mixed" run gives sessions the three policies in turn."""
    if config.policy != "mixed":
        return config.policy
    return POLICY_KINDS[index % len(POLICY_KINDS)]


def make_policies(kind: PolicyMix, every: int) -> list[ContextPolicy]:
    """The context policy of one session (fresh objects: a summarizer is bound to its
    runner). All run on completed replies, ``every`` of them; a reply that emitted a call
    completes while the tool still runs, so some pushes race calls in flight.

    - keep: trim to the last turns (R1's caller);
    - summarize: an out-of-band summary of the older turns, pushed from a stale snapshot
      (R2), replacing them;
    - redact: two writers on the same reply, a redactor rewriting tool outputs that carry
      a card number (R10) and a trimmer (R4).
    """
    if kind == "keep":
        return [KeepLastTurns(turns=2, every=every, trigger="turn")]
    if kind == "summarize":
        return [SummarizeOlder(keep_turns=1, every=every, trigger="turn")]
    return [
        RedactToolOutputs(every=every, trigger="turn"),
        KeepLastTurns(turns=3, every=every, trigger="turn"),
    ]


def make_agent(config: StressConfig, index: int) -> Agent:
    return Agent(
        instructions=INSTRUCTIONS,
        tools=make_tools(config.slow_tool_ms, config.seed),
        context_policy=make_policies(policy_kind(config, index), config.push_every),
        turn_detection=dict(SERVER_VAD) if config.audio else None,
    )


_SESSION_CONFIGS: dict[StressConfig, dict[str, Any]] = {}


def session_config(config: StressConfig, agent: Agent) -> dict[str, Any]:
    """The agent's session configuration, built once per run: it is the same for every
    session (the policies are not in it), and building the tools' JSON schemas took 3 ms
    a session. The session deep-copies what it is given, so sharing it is safe."""
    built = _SESSION_CONFIGS.get(config)
    if built is None:
        built = agent.session_config()
        truncation = config.truncation_setting()
        if truncation is not None:
            built["truncation"] = truncation
        _SESSION_CONFIGS[config] = built
    return built


@dataclass(frozen=True, slots=True)
class UserTurn:
    """What the user says, and whether they wait for the agent to finish first."""

    text: str
    impatient: bool = False  # starts once the reply is done, its tools still running


def user_turns(seed: int, impatient_fraction: float) -> Iterator[UserTurn]:
    """The user's turns, endless: small talk, tool requests, and now and then one turn
    naming two tools (parallel calls, R16)."""
    rng = random.Random(seed)
    while True:
        pick = rng.random()
        city = rng.choice(CITIES)
        if pick < 0.25:
            text = f"please book a table for {rng.randint(2, 8)} at 20:00"
        elif pick < 0.45:
            text = f"what is the weather in {city}?"
        elif pick < 0.6:
            text = f"when is the next train to {city}?"
        elif pick < 0.7:
            text = f"the weather in {city}, and book a table for {rng.randint(2, 8)}"
        else:
            text = f"tell me something nice about {city}"
        yield UserTurn(text, rng.random() < impatient_fraction)


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What one session does: its index and seed, its policy, and whether (and how far
    into the timed phase) the simulator drops its connection once."""

    index: int
    seed: int
    policy: PolicyMix
    drop_at: float | None  # fraction of the timed phase; None: never dropped
    drop_after_events: int  # the drop comes this many server events after drop_at


def plan_sessions(config: StressConfig) -> list[SessionPlan]:
    """Every session's plan; the dropped ones are drawn from the run's seed."""
    rng = random.Random(config.seed)
    dropped = set(rng.sample(range(config.sessions), config.disconnects))
    plans: list[SessionPlan] = []
    for index in range(config.sessions):
        drop = index in dropped
        plans.append(
            SessionPlan(
                index,
                config.session_seed(index),
                policy_kind(config, index),
                rng.uniform(0.15, 0.6) if drop else None,
                rng.randint(1, 25) if drop else 0,
            )
        )
    return plans


class SpeechBank:
    """Synthesized utterances, made once per text (synthesis costs ~10 ms each)."""

    def __init__(self) -> None:
        self._pcm: dict[str, bytes] = {}

    def utterance(self, text: str) -> bytes:
        pcm = self._pcm.get(text)
        if pcm is None:
            pcm = audio.synthesize(text) + audio.silence(SPOKEN_SILENCE_MS)
            self._pcm[text] = pcm
        return pcm
