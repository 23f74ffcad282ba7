"""``RealtimeModel``: LiveKit's OpenAI Realtime model, with accord underneath.

Switching is one import line: the constructor takes the keyword arguments of
``livekit.plugins.openai.realtime.RealtimeModel`` (same names, same defaults, same
converters), and ``with_azure`` those of its Azure constructor. What differs is what
happens to the conversation: every ``update_chat_ctx`` LiveKit makes is merged three
ways by accord's engine instead of diffed against a mirror, so a context policy, a
summarizer or LiveKit's own tool-output push can race the server and lose nothing.

Kept for compatibility but not used: ``http_session`` (accord dials with
``websockets``), ``temperature`` (ignored by the Realtime API, as in LiveKit) and
``api_version`` (the deprecated Azure beta path: accord speaks the GA protocol and
connects to Azure's GA endpoint). ``max_session_duration`` is accepted too; accord does
not recycle the connection early, because when the server ends a session (its 60-minute
limit) accord reconnects and restores the conversation (docs/architecture.md, invariant 7).
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from livekit.agents.utils import is_given
from livekit.plugins.openai.realtime.realtime_model import DEFAULT_VOICE, OPENAI_BASE_URL
from livekit.plugins.openai.realtime.utils import (
    AZURE_DEFAULT_INPUT_AUDIO_TRANSCRIPTION,
    AZURE_DEFAULT_TURN_DETECTION,
    DEFAULT_MAX_RESPONSE_OUTPUT_TOKENS,
    DEFAULT_MAX_SESSION_DURATION,
    to_audio_transcription,
    to_noise_reduction,
    to_turn_detection,
)

from accord.integrations.livekit.options import Options, turn_taking, warn_half_disabled
from accord.journal.store import JournalStore

if TYPE_CHECKING:
    from accord.integrations.livekit.session import RealtimeSession

log = logging.getLogger("accord.integrations.livekit")


class RealtimeModel(llm.RealtimeModel):
    """A drop-in for ``livekit.plugins.openai.realtime.RealtimeModel``.

    Capabilities are the plugin's, but for one: ``per_response_tool_choice`` is off,
    so LiveKit sets a turn's tool choice and tools on the session around the reply (its
    own fallback path) rather than on the response. Tool replies stay LiveKit's to ask
    for (``auto_tool_reply_generation`` is off, as in the plugin).
    """

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        voice: str = DEFAULT_VOICE,
        modalities: NotGivenOr[list[Literal["text", "audio"]]] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice | None] = NOT_GIVEN,
        base_url: NotGivenOr[str] = NOT_GIVEN,
        input_audio_transcription: NotGivenOr[Any] = NOT_GIVEN,
        input_audio_noise_reduction: NotGivenOr[Any] = NOT_GIVEN,
        turn_detection: NotGivenOr[Any] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        tracing: NotGivenOr[Any] = NOT_GIVEN,
        truncation: NotGivenOr[Any] = NOT_GIVEN,
        reasoning: NotGivenOr[Any] = NOT_GIVEN,
        api_key: str | None = None,
        http_session: Any = None,
        azure_deployment: str | None = None,
        entra_token: str | None = None,
        max_session_duration: NotGivenOr[float | None] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        temperature: NotGivenOr[float] = NOT_GIVEN,
        journal: str | JournalStore | None = None,
        journal_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        chosen: list[Literal["text", "audio"]] = (
            list(modalities) if is_given(modalities) else ["text", "audio"]
        )
        turns = to_turn_detection(turn_detection)
        transcription = to_audio_transcription(input_audio_transcription)
        warn_half_disabled(turns)
        super().__init__(
            capabilities=llm.RealtimeCapabilities(
                message_truncation=True,
                turn_detection=turn_taking(turns),
                can_disable_turn_detection=not is_given(turn_detection),
                user_transcription=transcription is not None,
                auto_tool_reply_generation=False,
                audio_output="audio" in chosen,
                manual_function_calls=True,
                mutable_chat_context=True,
                mutable_instructions=True,
                mutable_tools=True,
                per_response_tool_choice=False,
            )
        )
        if kwargs.get("api_version") or os.getenv("OPENAI_API_VERSION"):
            log.warning(
                "api_version (Azure's deprecated beta path) is ignored: accord speaks the GA "
                "protocol and connects to Azure's GA endpoint"
            )
        is_azure = (
            azure_deployment is not None
            or entra_token is not None
            or kwargs.get("api_version") is not None
        )
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None and not is_azure:
            raise ValueError(
                "an API key is needed: pass api_key or set OPENAI_API_KEY "
                "(a test against accord's simulator may pass any string)"
            )
        self._opts = Options(
            model=model,
            voice=voice,
            modalities=list(chosen),
            tool_choice=tool_choice if is_given(tool_choice) and tool_choice else None,
            input_audio_transcription=transcription,
            input_audio_noise_reduction=to_noise_reduction(input_audio_noise_reduction),
            turn_detection=turns,
            max_response_output_tokens=DEFAULT_MAX_RESPONSE_OUTPUT_TOKENS,  # type: ignore[arg-type]
            speed=speed if is_given(speed) else None,
            tracing=tracing if is_given(tracing) else None,
            truncation=truncation if is_given(truncation) else None,
            reasoning=reasoning if is_given(reasoning) else None,
            api_key=key,
            base_url=base_url if is_given(base_url) else _default_base_url(is_azure),
            is_azure=is_azure,
            azure_deployment=azure_deployment,
            entra_token=entra_token,
            max_session_duration=max_session_duration
            if is_given(max_session_duration)
            else DEFAULT_MAX_SESSION_DURATION,
            conn_options=conn_options,
            journal=journal,
            journal_key=journal_key,
        )
        if journal is not None and journal_key is None:
            raise ValueError(
                "journal_key is needed with a journal: the job's own id (a LiveKit job id, "
                "a room name), so the job dispatched again finds its conversation"
            )
        self._sessions: weakref.WeakSet[RealtimeSession] = weakref.WeakSet()

    @property
    def options(self) -> Options:
        return self._opts

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        from urllib.parse import urlparse

        return urlparse(self._opts.base_url).netloc

    @classmethod
    def with_azure(
        cls,
        *,
        azure_deployment: str,
        azure_endpoint: str | None = None,
        api_key: str | None = None,
        entra_token: str | None = None,
        base_url: str | None = None,
        voice: str = DEFAULT_VOICE,
        modalities: NotGivenOr[list[Literal["text", "audio"]]] = NOT_GIVEN,
        input_audio_transcription: NotGivenOr[Any] = NOT_GIVEN,
        input_audio_noise_reduction: Any = None,
        turn_detection: NotGivenOr[Any] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        tracing: NotGivenOr[Any] = NOT_GIVEN,
        reasoning: NotGivenOr[Any] = NOT_GIVEN,
        http_session: Any = None,
        max_session_duration: NotGivenOr[float | None] = NOT_GIVEN,
        temperature: NotGivenOr[float] = NOT_GIVEN,
        **kwargs: Any,
    ) -> RealtimeModel:
        """Azure OpenAI, as LiveKit's ``RealtimeModel.with_azure``: the key from
        ``AZURE_OPENAI_API_KEY`` and the endpoint from ``AZURE_OPENAI_ENDPOINT`` when not
        given, Azure's default transcription and turn detection when not given."""
        key = api_key or os.getenv("AZURE_OPENAI_API_KEY")
        if key is None and entra_token is None:
            raise ValueError(
                "Azure needs credentials: api_key, entra_token or AZURE_OPENAI_API_KEY"
            )
        if base_url is None:
            resource = azure_endpoint or os.getenv("AZURE_OPENAI_ENDPOINT")
            if resource is None:
                raise ValueError("Azure needs azure_endpoint (or AZURE_OPENAI_ENDPOINT)")
            base_url = f"{resource.rstrip('/')}/openai"
        elif azure_endpoint is not None:
            raise ValueError("base_url and azure_endpoint are mutually exclusive")
        can_disable = not is_given(turn_detection)
        model = cls(
            voice=voice,
            modalities=modalities,
            input_audio_transcription=input_audio_transcription
            if is_given(input_audio_transcription)
            else AZURE_DEFAULT_INPUT_AUDIO_TRANSCRIPTION,
            input_audio_noise_reduction=input_audio_noise_reduction,
            turn_detection=turn_detection
            if is_given(turn_detection)
            else AZURE_DEFAULT_TURN_DETECTION,
            speed=speed,
            tracing=tracing,
            reasoning=reasoning,
            api_key=key,
            http_session=http_session,
            azure_deployment=azure_deployment,
            entra_token=entra_token,
            base_url=base_url,
            max_session_duration=max_session_duration,
            **kwargs,
        )
        model._capabilities.can_disable_turn_detection = can_disable
        return model

    def update_options(
        self,
        *,
        voice: NotGivenOr[str] = NOT_GIVEN,
        turn_detection: NotGivenOr[Any] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice | None] = NOT_GIVEN,
        input_audio_transcription: NotGivenOr[Any] = NOT_GIVEN,
        input_audio_noise_reduction: NotGivenOr[Any] = NOT_GIVEN,
        max_response_output_tokens: NotGivenOr[int | Literal["inf"] | None] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        tracing: NotGivenOr[Any] = NOT_GIVEN,
        truncation: NotGivenOr[Any] = NOT_GIVEN,
        reasoning: NotGivenOr[Any] = NOT_GIVEN,
        temperature: NotGivenOr[float] = NOT_GIVEN,
    ) -> None:
        """Change the model's options and every open session's (as LiveKit's plugin)."""
        opts = self._opts
        if is_given(voice):
            opts.voice = voice
        if is_given(turn_detection):
            opts.turn_detection = to_turn_detection(turn_detection)
            self._capabilities.turn_detection = turn_taking(opts.turn_detection)
            warn_half_disabled(opts.turn_detection)
        if is_given(tool_choice):
            opts.tool_choice = tool_choice
        if is_given(input_audio_transcription):
            opts.input_audio_transcription = to_audio_transcription(input_audio_transcription)
            self._capabilities.user_transcription = opts.input_audio_transcription is not None
        if is_given(input_audio_noise_reduction):
            opts.input_audio_noise_reduction = to_noise_reduction(input_audio_noise_reduction)
        if is_given(max_response_output_tokens):
            opts.max_response_output_tokens = max_response_output_tokens
        if is_given(speed):
            opts.speed = speed
        for name, value in (("tracing", tracing), ("truncation", truncation)):
            if is_given(value):
                setattr(opts, name, value)
        if is_given(reasoning):
            opts.reasoning = reasoning
        for session in list(self._sessions):
            session.update_options(
                voice=voice,
                turn_detection=opts.turn_detection if is_given(turn_detection) else NOT_GIVEN,
                tool_choice=tool_choice,
                input_audio_transcription=opts.input_audio_transcription
                if is_given(input_audio_transcription)
                else NOT_GIVEN,
                input_audio_noise_reduction=opts.input_audio_noise_reduction
                if is_given(input_audio_noise_reduction)
                else NOT_GIVEN,
                max_response_output_tokens=max_response_output_tokens,
                speed=speed,
                tracing=tracing,
                truncation=truncation,
                reasoning=reasoning,
            )

    def session(self, *, turn_detection_disabled: bool = False) -> RealtimeSession:
        """A new session (connecting in the background); with
        ``turn_detection_disabled`` the server's turn detection is off for it alone."""
        from accord.integrations.livekit.session import RealtimeSession

        opts = replace(self._opts, modalities=list(self._opts.modalities))
        if turn_detection_disabled:
            opts.turn_detection = None
        session = RealtimeSession(self, opts)
        self._sessions.add(session)
        return session

    async def aclose(self) -> None:
        """Nothing to release: each session owns its connection (closed by ``aclose``)."""


def _default_base_url(is_azure: bool) -> str:
    if not is_azure:
        return os.getenv("OPENAI_BASE_URL", OPENAI_BASE_URL)
    resource = os.getenv("AZURE_OPENAI_ENDPOINT")
    if resource is None:
        raise ValueError("Azure needs base_url or the AZURE_OPENAI_ENDPOINT environment variable")
    return f"{resource.rstrip('/')}/openai"
