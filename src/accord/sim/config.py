"""The simulator's settings: timing, limits, access, and switches for unconfirmed behaviour.

Every behaviour of the real server that is not confirmed (docs/protocol-notes.md,
"Unknown") is a switch here with its documented default, so a test can run both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from accord.sim.channel import Transit
from accord.sim.dialects import Dialect, Profile, profile
from accord.sim.mcp import McpScript
from accord.sim.truncation import DEFAULT_POST_INSTRUCTIONS

KNOWN_MODEL_PREFIXES = (
    "gpt-realtime",
    "gpt-4o-realtime",
    "gpt-4o-mini-realtime",
    "accord-sim",
)


@dataclass(frozen=True, slots=True)
class Quirks:
    """Unconfirmed or occasional real-server behaviour, off unless a test asks."""

    # Seen from the real server: a response starts on its own right after a
    # function_call_output, before the client's response.create (docs/protocol-notes.md).
    auto_response_after_output: bool = False
    # Seen from the real server (reported with race R14): the busy error that refuses a
    # response.create while the server's own response starts carries event_id null and
    # arrives before that response's response.created.
    busy_error_early: bool = False
    # Assumed: conversation.item.done is sent for a partial item of a cancelled response.
    done_for_cancelled_items: bool = True
    # Unknown: whether out-of-band responses emit conversation.item.* events (assumed no).
    out_of_band_item_events: bool = False
    # Assumed: a deleted id may be created again (clients do it; unverified).
    reuse_deleted_ids: bool = True
    # Seen from the real server: a function_call_output created while a response streams
    # is acknowledged (conversation.item.added/.done) only after that response.done.
    output_ack_after_response: bool = True
    # Seen from the real server: its audio length for an item can be ~85 ms shorter than
    # the PCM the client received (a truncate at the received length is refused).
    audio_shortfall_ms: int = 85


RefusableKind = Literal["create", "create_output", "delete", "response"]
REFUSABLE_KINDS: tuple[RefusableKind, ...] = ("create", "create_output", "delete", "response")


@dataclass(frozen=True, slots=True)
class ServerErrorFaults:
    """Answer a share of the client's operations with ``server_error`` instead of doing
    them: the refusal every client must survive (``accord stress --server-errors``).

    ``kinds`` names which operations can be refused: ``create`` (any item but a tool
    output), ``create_output`` (a ``function_call_output``), ``delete``, and
    ``response`` (an in-band ``response.create``). Draws are seeded per session.
    """

    rate: float = 0.0
    kinds: frozenset[RefusableKind] = frozenset(REFUSABLE_KINDS)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"server error rate must be within [0, 1], got {self.rate}")
        unknown = set(self.kinds) - set(REFUSABLE_KINDS)
        if unknown:
            raise ValueError(f"unknown operation kinds {sorted(unknown)}: use {REFUSABLE_KINDS}")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Settings of one simulator server (all sessions share them)."""

    host: str = "127.0.0.1"
    port: int = 0
    require_key: str | None = None  # None: any key (or none) is accepted
    session_max_seconds: float = 3600.0  # the real limit is 60 minutes
    beta_expiry: bool = False  # beta sent an `error` session_expired before closing
    upstream: Transit = field(default_factory=Transit)  # client -> server
    downstream: Transit = field(default_factory=Transit)  # server -> client
    max_event_bytes: int = 15 * 1024 * 1024  # a larger frame is refused, not fatal
    ms_per_char: int = 60  # synthesized speech length per character of text
    delta_chars: int = 12  # characters per text/transcript delta
    audio_delta_ms: int = 200  # audio per output_audio delta
    stream_pause_ms: float = 0.0  # pause between deltas (0: as fast as possible)
    transcription_delay_ms: float = 30.0  # a transcript completes after this long
    quirks: Quirks = field(default_factory=Quirks)
    server_errors: ServerErrorFaults = field(default_factory=ServerErrorFaults)
    seed: int = 0
    # SimSession.sent keeps every event delivered, for tests to read; a long run of many
    # sessions (accord stress) turns it off: the kept events dominated its memory and its
    # garbage collector's pauses.
    keep_sent_events: bool = True
    # A closed session's state (its store, for SimServer.conversations()) is kept this
    # long after it closed, and at most this many closed sessions, then forgotten.
    closed_session_keep_s: float = 600.0
    closed_sessions_kept: int = 1000
    # Which server to be: OpenAI's, or one that speaks its protocol with its own
    # differences (sim/dialects.py says which, and where each was observed).
    dialect: Dialect = "openai"
    # The model's context after the instructions, in the simulator's tokens
    # (sim/tokens.py): what `truncation` "auto" and "disabled", and a retention_ratio
    # without token_limits, hold the conversation to (sim/truncation.py).
    post_instructions_limit: int = DEFAULT_POST_INSTRUCTIONS
    # The MCP servers a session's `mcp` tools reach, by server_label (sim/mcp.py); any
    # other label gets the default script (tools `echo` and `always_fails`).
    mcp_servers: Mapping[str, McpScript] = field(default_factory=dict)

    def __post_init__(self) -> None:
        profile(self.dialect)  # an unknown dialect fails here, not at the first connection

    @property
    def profile(self) -> Profile:
        return profile(self.dialect)

    @staticmethod
    def model_known_openai(model: str) -> bool:
        return any(model.startswith(p) for p in KNOWN_MODEL_PREFIXES)

    def model_known(self, model: str | None) -> bool:
        if not model:
            return False
        prof = self.profile
        if prof.any_deployment:
            return True
        return any(model.startswith(p) for p in (*KNOWN_MODEL_PREFIXES, *prof.model_prefixes))
