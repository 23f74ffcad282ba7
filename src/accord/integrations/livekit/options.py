"""The model's options, as LiveKit's OpenAI plugin takes them, and what they become here.

The keyword arguments and their defaults are LiveKit's (the plugin's own converters
normalise them, so a value means the same under either model); this module turns them
into what accord sends: the session configuration (GA shape), the endpoint with its
headers, and the function-tool schemas.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import llm
from livekit.agents.types import APIConnectOptions
from livekit.plugins.openai.realtime.realtime_model import process_base_url
from livekit.plugins.openai.realtime.utils import to_oai_tool_choice
from openai.types.realtime import AudioTranscription, RealtimeAudioInputTurnDetection
from openai.types.realtime.realtime_audio_config_input import NoiseReduction
from pydantic import BaseModel

from accord.client.transport import Endpoint
from accord.integrations.livekit.audio import SAMPLE_RATE
from accord.journal.store import JournalStore

log = logging.getLogger("accord.integrations.livekit")

PCM = {"type": "audio/pcm", "rate": SAMPLE_RATE}


@dataclass
class Options:
    """One model's settings (each session takes a copy it may change on its own)."""

    model: str
    voice: str
    modalities: list[Literal["text", "audio"]]
    tool_choice: llm.ToolChoice | None
    input_audio_transcription: AudioTranscription | None
    input_audio_noise_reduction: NoiseReduction | None
    turn_detection: RealtimeAudioInputTurnDetection | None
    max_response_output_tokens: int | Literal["inf"] | None
    speed: float | None
    tracing: Any
    truncation: Any
    reasoning: Any
    api_key: str | None
    base_url: str
    is_azure: bool
    azure_deployment: str | None
    entra_token: str | None
    max_session_duration: float | None
    conn_options: APIConnectOptions
    #: A journal (docs/journal.md) and the key the conversation is kept under: a job
    #: dispatched again with the same key resumes the conversation instead of starting.
    journal: str | JournalStore | None = None
    journal_key: str | None = None

    @property
    def output_modality(self) -> Literal["text", "audio"]:
        """The Realtime API answers in one modality: audio (with its transcript) when
        audio is among the modalities asked for."""
        return "audio" if "audio" in self.modalities else "text"


def turn_taking(turn_detection: RealtimeAudioInputTurnDetection | None) -> bool:
    """Whether the server both detects turns and answers them (LiveKit's capability)."""
    return turn_detection is not None and turn_detection.create_response is not False


def warn_half_disabled(turn_detection: RealtimeAudioInputTurnDetection | None) -> None:
    if (
        turn_detection is not None
        and turn_detection.create_response is False
        and turn_detection.interrupt_response is not False
    ):
        log.warning(
            "create_response=False leaves turn taking to the client while the server still "
            "cancels its response when the user speaks: pass interrupt_response=False too"
        )


def dump(value: Any) -> Any:
    """A setting as it goes on the wire (pydantic models as dicts, None dropped)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return value


def tool_choice_field(tool_choice: llm.ToolChoice | None) -> Any:
    return dump(to_oai_tool_choice(tool_choice))


def audio_fields(opts: Options) -> dict[str, Any]:
    return {
        "input": {
            "format": dict(PCM),
            "noise_reduction": dump(opts.input_audio_noise_reduction),
            "transcription": dump(opts.input_audio_transcription),
            "turn_detection": dump(opts.turn_detection),
        },
        "output": {
            "format": dict(PCM),
            "voice": opts.voice,
            **({"speed": opts.speed} if opts.speed is not None else {}),
        },
    }


def session_config(opts: Options) -> dict[str, Any]:
    """The configuration accord sends on every (re)connection, GA shape."""
    config: dict[str, Any] = {
        "model": opts.model,
        "output_modalities": [opts.output_modality],
        "audio": audio_fields(opts),
        "tool_choice": tool_choice_field(opts.tool_choice),
    }
    if opts.max_response_output_tokens is not None:
        config["max_output_tokens"] = opts.max_response_output_tokens
    for name in ("tracing", "truncation", "reasoning"):
        value = getattr(opts, name)
        if value is not None:
            config[name] = dump(value)
    return config


def endpoint(opts: Options) -> Endpoint:
    """Where to connect, as LiveKit's plugin would (its URL rules), with the headers:
    OpenAI's bearer key; Azure's ``api-key`` and/or an Entra bearer token. Azure is
    reached on its GA path (``/openai/v1/realtime?model=<deployment>``)."""
    url = process_base_url(
        opts.base_url, opts.model, is_azure=opts.is_azure, azure_deployment=opts.azure_deployment
    )
    headers: dict[str, str] = {}
    if opts.is_azure:
        if opts.entra_token:
            headers["Authorization"] = f"Bearer {opts.entra_token}"
        if opts.api_key:
            headers["api-key"] = opts.api_key
    elif opts.api_key:
        headers["Authorization"] = f"Bearer {opts.api_key}"
    return Endpoint(url, headers)


def tool_schemas(tools: Sequence[llm.Tool]) -> tuple[list[dict[str, Any]], list[llm.Tool]]:
    """The Realtime function tools for LiveKit's tools, and the tools they cover
    (provider tools are kept as they are, as LiveKit's plugin does)."""
    schemas: list[dict[str, Any]] = []
    kept: list[llm.Tool] = []
    for tool in tools:
        if isinstance(tool, llm.FunctionTool):
            schema = llm.utils.build_legacy_openai_schema(tool, internally_tagged=True)
        elif isinstance(tool, llm.RawFunctionTool):
            schema = dict(tool.info.raw_schema)
            schema.pop("meta", None)
            schema["type"] = "function"
        elif isinstance(tool, llm.ProviderTool):
            kept.append(tool)
            continue
        else:
            log.error("tool %r is not a function tool: left out", tool)
            continue
        schemas.append(schema)
        kept.append(tool)
    return schemas, kept
