"""What one stress session sends home, and the worker's clock for the timed phase."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SessionOutcome:
    """One session's counts and findings (picklable: a worker sends it home)."""

    index: int
    policy: str
    turns: int = 0
    stalls: int = 0
    turn_errors: int = 0
    reconnects: int = 0
    dropped: bool = False  # the simulator was told to drop this session once
    ops_sent: int = 0
    resolved: int = 0
    pushes: int = 0
    pushes_during_calls: int = 0
    deferred: int = 0
    aliased: int = 0
    tool_calls: int = 0
    server_events: int = 0
    judged: bool = False
    settled: bool = False
    restores_judged: int = 0
    violations: int = 0
    lost_items: int = 0
    server_errors: int = 0
    injected_errors: int = 0  # server_error refusals the simulator was told to make
    evicted_items: int = 0  # items the server's truncation dropped (session.truncation)
    duplicate_replies: int = 0  # a second reply to one user turn or tool output
    # --kill-every: how often this session was resumed from the journal in another worker
    # (its last server session is the one judged), what the resumes reported lost, and
    # the calls of that server session without exactly one output.
    resumes: int = 0
    resume_lost: int = 0
    calls_without_one_output: int = 0
    error: str | None = None  # the session could not run or be judged
    details: list[str] = field(default_factory=list)
    update_latencies: list[float] = field(default_factory=list)
    turn_seconds: list[float] = field(default_factory=list)
    last_turn_end: float = 0.0

    @property
    def desyncs(self) -> int:
        """As the demo counts them: every invariant broken (the mirror or the agent's
        context differing from the server among them) and every unexpected server error."""
        return self.violations + self.server_errors + self.duplicate_replies


@dataclass
class Phase:
    """The worker's clock for the timed phase (event-loop time)."""

    start: float = 0.0
    stop: float = 0.0
    end: float = 0.0  # stop + grace: nothing waits longer than this
