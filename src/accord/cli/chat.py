"""`accord chat`: chat with the demo's agent and tools, typed or spoken.

Against the real API with ``OPENAI_API_KEY`` (a clear message when it is missing), a
compatible ``--url``, or the embedded simulator with ``--sim``. Typed: a line is a turn;
``/quit`` or end-of-input ends the chat. Spoken (docs/voice.md): ``--audio-in in.wav``
is one spoken turn read from a WAV file, its reply's audio written to ``--audio-out``;
``--mic`` talks through the microphone and plays the replies (the ``accord[voice]``
extra). Both sides of a spoken turn are printed as text. A file or device that cannot be
used is exit 2 with the reason, before anything connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from accord.agent import DEFAULT_SERVER_VAD, AgentRunner, ToolFinished, ToolStarted, Transcript
from accord.audio_devices import (
    DeviceError,
    Microphone,
    Speaker,
    VoiceExtraMissingError,
    load_sounddevice,
)
from accord.audio_io import WavFormatError, WavSink, read_wav
from accord.client import events as se
from accord.client.errors import AccordError, OperationTimeout, RealtimeError
from accord.client.generation import Generation
from accord.demo.scenario import make_agent
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.server import SimServer

QUIT = ("/quit", "/exit")
TURN_TIMEOUT = 60.0
# Silence pushed after a WAV's audio, so server VAD ends the turn even when the file
# stops mid-word: the VAD's silence window and a margin.
TAIL_MS = int(DEFAULT_SERVER_VAD["silence_duration_ms"]) + 300
BYTES_PER_MS = 48


@dataclass(frozen=True)
class Target:
    """Where to connect: the embedded simulator, a ``--url``, or the real API."""

    sim: bool
    url: str | None
    model: str
    key: str | None


def chat(
    url: str | None = typer.Option(None, "--url", help="A Realtime-compatible ws:// URL."),
    sim: bool = typer.Option(False, "--sim", help="Chat with the embedded simulator."),
    model: str = typer.Option("gpt-realtime", "--model", help="Model name."),
    audio_in: Path | None = typer.Option(
        None,
        "--audio-in",
        help="One spoken turn from a WAV file (16-bit PCM; other rates and stereo are "
        "converted to 24 kHz mono).",
    ),
    audio_out: Path | None = typer.Option(
        None, "--audio-out", help="Write the reply's audio to this WAV file (PCM16 24 kHz)."
    ),
    mic: bool = typer.Option(
        False,
        "--mic",
        # "\\[": rich would take [voice] for markup.
        help="Talk through the microphone and hear the replies "
        "(the voice extra: pip install 'accord\\[voice]').",
    ),
    turns: int = typer.Option(
        0,
        "--turns",
        min=0,
        help="With --mic: stop after this many replies, cut short or not (0: on Enter).",
    ),
) -> None:
    """Chat in text or voice; uses OPENAI_API_KEY against the real API when no --sim or --url."""
    console = Console()
    if mic and audio_in is not None:
        _usage(console, "--mic and --audio-in: choose one way to speak")
    if audio_out is not None and audio_in is None and not mic:
        _usage(console, "--audio-out writes the reply to a spoken turn: give --audio-in or --mic")
    key = os.environ.get("OPENAI_API_KEY")
    if not sim and url is None and not key:
        console.print(
            "[red]accord chat: OPENAI_API_KEY is not set.[/red] Set it to chat with "
            "the real API, or use --sim for the built-in simulator (no key needed)."
        )
        raise typer.Exit(2)
    target = Target(sim, url, model, key)
    # Everything that can be refused is checked before connecting.
    try:
        pcm = read_wav(audio_in) if audio_in is not None else None
    except (WavFormatError, OSError) as exc:
        _usage(console, f"cannot read {audio_in}: {_reason(exc)}")
    devices = _devices(console) if mic else None
    try:
        sink = WavSink(audio_out) if audio_out is not None else None
    except OSError as exc:
        _usage(console, f"cannot write {audio_out}: {_reason(exc)}")
    try:
        if pcm is not None:
            asyncio.run(_wav_turn(console, target, pcm, sink))
        elif devices is not None:
            asyncio.run(_mic_chat(console, target, devices, sink, turns))
        else:
            asyncio.run(_chat(console, target))
    except AccordError as exc:
        console.print(f"[red]accord chat: {escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from exc
    except DeviceError as exc:
        _usage(console, str(exc))
    except TimeoutError as exc:
        message = escape(str(exc) or "no reply in time")
        console.print(f"[red]accord chat: {message}[/red]", soft_wrap=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        if sink is not None:
            sink.close()  # the header gets the lengths, whatever ended the chat
    if sink is not None:
        seconds = sink.duration_ms / 1000
        written = escape(str(sink.path))
        console.print(f"reply: {seconds:.1f} s of audio written to {written}", soft_wrap=True)


def _usage(console: Console, message: str) -> NoReturn:
    console.print(f"[red]accord chat: {escape(message)}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, WavFormatError):
        return exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _devices(console: Console) -> ModuleType:
    try:
        return load_sounddevice()
    except VoiceExtraMissingError as exc:
        _usage(console, str(exc))


@contextlib.asynccontextmanager
async def _connected(target: Target, *, voice: bool) -> AsyncIterator[AgentRunner]:
    """The demo's agent on a session to the target; a voice agent speaks its replies
    and gets server VAD (the default for an agent that hears audio)."""
    agent = make_agent()
    if voice:
        agent = replace(agent, modalities=["audio"], turn_detection="auto")
    server = await SimServer().start() if target.sim else None
    try:
        url = server.url if server is not None else target.url
        # The real key goes only to the real API, never to the local simulator.
        api_key = "sk-local-simulator" if server is not None else target.key
        async with RealtimeSession.connect(
            url, api_key=api_key, model=target.model, session=agent.session_config()
        ) as session:
            runner = agent.start(session)
            try:
                yield runner
            finally:
                await runner.aclose()
    finally:
        if server is not None:
            await server.stop()


async def _chat(console: Console, target: Target) -> None:
    async with _connected(target, voice=False) as runner:
        printer = asyncio.ensure_future(_print(console, runner))
        console.print("connected; type a message (/quit to leave)")
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip() in QUIT:
                break
            if line.strip():
                try:
                    await runner.say(line.strip())
                    await runner.wait_idle(TURN_TIMEOUT)
                except (RealtimeError, OperationTimeout, TimeoutError) as exc:
                    # One failed turn is reported; the chat goes on.
                    console.print(f"[red]this turn failed: {exc}[/red]")
        printer.cancel()


async def _print(console: Console, runner: AgentRunner) -> None:
    async for event in runner.events():
        if not (isinstance(event, Transcript) and event.role == "user"):
            _show(console, event)


def _show(console: Console, event: object, *, transcripts: bool = True) -> None:
    """One runner event as a line: tools, and the assistant's replies (and, in a spoken
    chat, the user's words) unless ``transcripts`` is off (printed at the end)."""
    if isinstance(event, Transcript) and transcripts:
        who = "you" if event.role == "user" else "[bold]assistant[/bold]"
        console.print(f"{who}: {escape(event.text)}", highlight=False, soft_wrap=True)
    elif transcripts and isinstance(event, se.InputTranscriptFailed):
        reason = escape(event.message)
        console.print(f"you: [dim](not transcribed: {reason})[/dim]", highlight=False)
    elif isinstance(event, ToolStarted):
        console.print(f"[dim]tool {event.name} running...[/dim]")
    elif isinstance(event, ToolFinished):
        console.print(f"[dim]tool {event.name} {'done' if event.ok else 'failed'}[/dim]")


def _print_conversation(console: Console, runner: AgentRunner) -> None:
    """Both sides of the conversation in its order on the server (the user's transcript
    often arrives after the reply's, so the order of the events is not the order of the
    turn): what was heard and what was answered."""
    for item in runner.session.chat_ctx:
        if not isinstance(item, Message) or item.role == "system":
            continue
        if item.role == "user":
            heard = escape(item.text) if item.text else "[dim](not transcribed)[/dim]"
            console.print(f"you: {heard}", highlight=False, soft_wrap=True)
        elif item.text:
            text = escape(item.text)
            console.print(f"[bold]assistant[/bold]: {text}", highlight=False, soft_wrap=True)


class _Replies:
    """The in-band replies of a spoken chat, in order, each handed on whole: one
    response streams at a time, so writing them one after the other keeps the order."""

    def __init__(
        self,
        console: Console,
        runner: AgentRunner,
        *,
        live: bool,
        on_speech: Callable[[], None] | None = None,
    ) -> None:
        self.live = live  # print transcripts as they come (else the caller prints them)
        self.queue: asyncio.Queue[Generation] = asyncio.Queue()
        self.started = asyncio.Event()
        self._on_speech = on_speech
        self._console = console
        self._task = asyncio.ensure_future(self._watch(runner))

    async def _watch(self, runner: AgentRunner) -> None:
        async for event in runner.events():
            _show(self._console, event, transcripts=self.live)
            if isinstance(event, se.GenerationStarted) and not event.generation.out_of_band:
                self.queue.put_nowait(event.generation)
                self.started.set()
            elif isinstance(event, se.InputSpeechStarted) and self._on_speech is not None:
                self._on_speech()

    def close(self) -> None:
        self._task.cancel()


async def _wav_turn(console: Console, target: Target, pcm: bytes, sink: WavSink | None) -> None:
    """One spoken turn from a file: push it with a tail of silence (server VAD ends the
    turn), wait for the reply and its follow-ups (a tool's answer), write their audio."""
    async with _connected(target, voice=True) as runner:
        replies = _Replies(console, runner, live=False)
        try:
            runner.speak(pcm + bytes(TAIL_MS * BYTES_PER_MS))
            try:
                await asyncio.wait_for(replies.started.wait(), TURN_TIMEOUT)
            except TimeoutError:
                raise TimeoutError(
                    f"no reply within {TURN_TIMEOUT:.0f} s: the server heard no spoken turn "
                    "in the file (is it speech, loud enough?)"
                ) from None
            await runner.wait_idle(TURN_TIMEOUT)
            while not replies.queue.empty():
                generation = replies.queue.get_nowait()
                if sink is not None:
                    await sink.write_stream(generation.audio)
                await generation.wait()
            _print_conversation(console, runner)
        finally:
            replies.close()


async def _mic_chat(
    console: Console, target: Target, sd: ModuleType, sink: WavSink | None, turns: int
) -> None:
    """Talk until Enter (or Ctrl-C), or ``turns`` replies: the microphone feeds the
    session, each reply plays as it streams, and speech over it stops the playback."""
    async with _connected(target, voice=True) as runner:
        speaker = Speaker(sounddevice=sd)
        playback = _Playback(runner, speaker, sink)
        replies = _Replies(console, runner, live=True, on_speech=playback.barge_in)
        stop = asyncio.Event()
        _stop_on_enter(stop)
        try:
            with speaker, Microphone(runner.speak, sounddevice=sd):
                console.print("listening; speak (Enter or Ctrl-C to stop)")
                done = 0
                while not stop.is_set() and (turns == 0 or done < turns):
                    generation = await _next_reply(replies, stop)
                    if generation is None:
                        break
                    await playback.play(generation)
                    done += 1  # a reply cut short by the user counts too
                while speaker.pending_ms and not playback.cut:
                    await asyncio.sleep(0.02)  # let the last reply finish playing
                await runner.wait_idle(TURN_TIMEOUT)
        finally:
            replies.close()


class _Playback:
    """Replies to the speaker (and the recording), and what a barge-in cut of them.

    The server streams a reply faster than it plays, so the user usually speaks over a
    reply that has finished streaming: the runner's barge-in (for a reply still
    streaming) does not see it, and the server's item would keep words nobody heard.
    Here each item's place in the speaker's stream is kept, and such a barge-in
    truncates the item where playback stopped (or deletes it when none of it played).
    """

    def __init__(self, runner: AgentRunner, speaker: Speaker, sink: WavSink | None) -> None:
        self.runner = runner
        self.speaker = speaker
        self.sink = sink
        self.cut = False  # the last reply was stopped by the user speaking
        self._spans: dict[str, tuple[int, int]] = {}  # item -> its bytes in the stream
        self._interruptions = runner.stats.interruptions

    async def play(self, generation: Generation) -> str:
        self.cut = False
        played = self.speaker.cursor
        self._spans = {item: span for item, span in self._spans.items() if span[1] > played}
        async for message in generation.messages:
            start = self.speaker.enqueued
            async for chunk in message.audio:
                if self.cut:
                    break
                self.speaker.play(chunk)
                if self.sink is not None:
                    self.sink.write(chunk)
                self._spans[message.item_id] = (start, self.speaker.enqueued)
        return await generation.wait()

    def barge_in(self) -> None:
        stopped = self.speaker.clear()
        self.cut = True
        runner_interrupted = self.runner.stats.interruptions != self._interruptions
        self._interruptions = self.runner.stats.interruptions
        if runner_interrupted:
            return  # the reply was still streaming: the runner cancelled and cut it
        for item_id, (start, end) in self._spans.items():
            if start <= stopped < end:
                heard_ms = (stopped - start) // BYTES_PER_MS
                self.runner.session.interrupt(heard_ms, item_id=item_id)
        self._spans.clear()


async def _next_reply(replies: _Replies, stop: asyncio.Event) -> Generation | None:
    getter = asyncio.ensure_future(replies.queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if getter.done():
        return getter.result()
    getter.cancel()
    return None


def _stop_on_enter(stop: asyncio.Event) -> None:
    """Set ``stop`` when a line is typed. A daemon thread, not ``asyncio.to_thread``: a
    read that never returns must not keep the program from ending. End of input (no
    keyboard, e.g. run from a script) is not a stop: the chat goes on."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        line = sys.stdin.readline()
        if line:
            with contextlib.suppress(RuntimeError):  # the chat already ended
                loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, name="accord-chat-stdin", daemon=True).start()


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
