"""What a stress run does: the options of ``accord stress`` as one frozen value.

Every timeout, rate and limit of the run is a named field with its default here
(docs/architecture.md, "Style"), so the CLI, the tests and a worker process (which
receives this value pickled) agree on one description of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Strategy = Literal["accord", "naive"]
PolicyMix = Literal["mixed", "keep", "summarize", "redact"]

STRATEGIES: tuple[Strategy, ...] = ("accord", "naive")
POLICY_MIXES: tuple[PolicyMix, ...] = ("mixed", "keep", "summarize", "redact")


@dataclass(frozen=True, slots=True)
class StressConfig:
    """One stress run. ``seconds`` is the timed phase: sessions start turns only inside
    it; turns still running at its end get ``grace`` seconds to finish, then every
    session must be quiet and is judged against the simulator's store."""

    sessions: int = 100
    seconds: float = 10.0
    strategy: Strategy = "accord"
    workers: int = 1
    audio: bool = False  # spoken user turns (push_audio + server VAD) instead of typed ones
    seed: int = 0
    latency_ms: float = 20.0  # simulated transit each way ...
    jitter_ms: float = 10.0  # ... +/- this, seeded per direction
    disconnect_fraction: float = 0.01  # of sessions dropped once mid-run (rounded up)
    push_every: int = 3  # a context policy pushes every this many completed replies
    policy: PolicyMix = "mixed"
    slow_tool_ms: tuple[float, float] = (150.0, 600.0)  # the slow tool's duration range
    # Typed turns that start as soon as the previous reply is done, while its tools still
    # run (the user talks on): a trim then removes a call in flight, which must wait.
    impatient_fraction: float = 0.25
    # A pause between turns (+/- half). 0: each user types the next turn at once, and the
    # run measures the stack's capacity; a human pace (a few seconds) measures latency at
    # a given load instead.
    think_ms: float = 0.0
    turn_timeout: float = 20.0  # a turn not idle after this long is counted as stalled
    # After `seconds`: how long running turns may take to finish and sessions to become
    # quiet. Longer than a turn may take (turn_timeout), so a turn in hand always ends.
    grace: float = 30.0
    settle: float = 0.05  # idle this long (no event, nothing pending) ends a turn
    connect_concurrency: int = 64  # websocket handshakes in flight at once per worker
    transcription_delay_ms: float = 40.0
    # After connecting: freeze the set-up objects out of the garbage collector's scans and
    # collect the young generation less often (see worker.py); off measures the defaults.
    gc_tuning: bool = True
    # The share of creates, tool outputs, deletes and in-band response.create the
    # simulator answers with server_error instead of doing them (0: none). accord sends
    # them again; a run passes with 0 lost items and 0 duplicate replies.
    server_errors: float = 0.0
    # The session's truncation (docs/truncation.md): None leaves the server's default
    # ("auto" at the model's limit); "auto", "disabled", or a retention ratio (0..1),
    # with ``post_instructions`` as the token limit (None: the model's).
    truncation: str | float | None = None
    post_instructions: int | None = None
    # Durable sessions (docs/journal.md): each session records under its own key in this
    # store (a journal URL); with ``kill_every``, the parent SIGKILLs a random worker
    # about every this many seconds and the others resume its sessions from the journal.
    journal: str | None = None
    kill_every: float | None = None

    def truncation_setting(self) -> str | dict[str, Any] | None:
        """``session.truncation`` as the SDK spells it, or None to leave it unset."""
        if isinstance(self.truncation, float):
            setting: dict[str, Any] = {
                "type": "retention_ratio",
                "retention_ratio": self.truncation,
            }
            if self.post_instructions is not None:
                setting["token_limits"] = {"post_instructions": self.post_instructions}
            return setting
        return self.truncation

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ValueError("sessions must be at least 1")
        if self.seconds <= 0:
            raise ValueError("seconds must be positive")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r} (accord or naive)")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if isinstance(self.truncation, float) and not 0.0 <= self.truncation <= 1.0:
            raise ValueError(f"retention ratio must be within [0, 1], got {self.truncation}")
        if isinstance(self.truncation, str) and self.truncation not in ("auto", "disabled"):
            raise ValueError(f"truncation must be auto, disabled or a ratio: {self.truncation!r}")
        if self.post_instructions is not None and self.post_instructions < 1:
            raise ValueError("post_instructions must be at least 1")
        if not 0.0 <= self.disconnect_fraction <= 1.0:
            raise ValueError("disconnect fraction must be within [0, 1]")
        if not 0.0 <= self.impatient_fraction <= 1.0:
            raise ValueError("impatient fraction must be within [0, 1]")
        if self.grace <= 0 or self.turn_timeout <= 0:
            raise ValueError("grace and turn timeout must be positive")
        if self.push_every < 1:
            raise ValueError("push_every must be at least 1")
        if self.policy not in POLICY_MIXES:
            raise ValueError(f"unknown policy mix {self.policy!r} ({', '.join(POLICY_MIXES)})")
        if not 0.0 <= self.server_errors <= 1.0:
            raise ValueError("server error rate must be within [0, 1]")
        if self.kill_every is not None:
            if self.kill_every <= 0:
                raise ValueError("kill-every must be a positive number of seconds")
            if self.journal is None:
                raise ValueError(
                    "kill-every needs --journal: a killed worker's sessions are resumed from it"
                )
            if self.journal in ("sqlite://", "sqlite:///:memory:"):
                raise ValueError(
                    "kill-every needs a journal the workers share: a file or Redis, not memory"
                )
            if self.workers < 2 or self.sessions < 2:
                raise ValueError(
                    "kill-every needs --workers 2 or more (and as many sessions): the "
                    "surviving workers resume the killed worker's sessions"
                )
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.think_ms < 0:
            raise ValueError("latency, jitter and think time must not be negative")

    @property
    def disconnects(self) -> int:
        """How many sessions are dropped once: rounded up, so a small run (8 sessions at
        1%) still exercises reconnect and restore."""
        return min(self.sessions, math.ceil(self.sessions * self.disconnect_fraction))

    def journal_key(self, run: str, index: int) -> str:
        """The key session ``index`` records under: ``run`` (unique per run) keeps two
        runs on one store apart, since a key that holds a conversation is refused."""
        return f"stress-{run}-{index}"

    def session_seed(self, index: int) -> int:
        """A session's own seed: its script, ids and jitter follow from the run's seed."""
        return self.seed * 1_000_003 + index

    def shares(self) -> list[range]:
        """The session indices each worker runs, as even as possible."""
        workers = min(self.workers, self.sessions)
        base, extra = divmod(self.sessions, workers)
        out: list[range] = []
        start = 0
        for w in range(workers):
            size = base + (1 if w < extra else 0)
            out.append(range(start, start + size))
            start += size
        return out
