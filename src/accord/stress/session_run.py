"""One stress session from connect to verdict: the full stack, timed and judged.

A :class:`StressSession` is a :class:`~accord.session.RealtimeSession` (timing every
``update_chat_ctx``), an :class:`~accord.agent.AgentRunner` with the workload's agent,
a judge following the session core, and the simulator sessions that serve it (one per
connection; the simulator is told apart by the model name the session dials with). Its
life: connect, play turns until the timed phase ends, finish the turn in hand within the
grace period, wait until both sides are quiet, judge, close. Nothing a session does can
end the run: every failure becomes a count and a line in its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from accord.agent import Agent, AgentRunner
from accord.client import events as app
from accord.client.generation import Generation
from accord.engine.events import PushReport
from accord.errors import AccordError, ConnectionLost, SessionClosed
from accord.items import ChatContext, Message
from accord.journal import JournalStore
from accord.session import RealtimeSession, SessionOptions
from accord.stress.config import StressConfig
from accord.stress.judge import SessionJudge, answered_inputs, resume_entries
from accord.stress.outcome import Phase, SessionOutcome
from accord.stress.server_side import ServerSide
from accord.stress.workload import (
    SessionPlan,
    SpeechBank,
    UserTurn,
    make_agent,
    session_config,
    user_turns,
)
from accord.verify.strategies import strategy_named

MODEL_PREFIX = "accord-sim-stress-"
API_KEY = "sk-stress-not-a-key"
POLL_SECONDS = 0.05  # a busy session re-checks idleness at least this often
# A resumed session's id seed: not the crashed one's, which would make its ids again.
RESUME_SEED_STEP = 1_000_000_007
MAX_DETAILS = 5  # violation and error lines kept per session


def model_name(index: int) -> str:
    """The model a session dials with: how the simulator's side finds its client."""
    return f"{MODEL_PREFIX}{index}"


class TimedSession(RealtimeSession):
    """A session that times every ``update_chat_ctx`` (the runner's policy pushes and the
    user's turns alike), from the call to its report."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.update_latencies: list[float] = []

    async def update_chat_ctx(
        self, ctx: ChatContext, *, explicit_replace: bool = False
    ) -> PushReport:
        started = time.perf_counter()
        report = await super().update_chat_ctx(ctx, explicit_replace=explicit_replace)
        self.update_latencies.append(time.perf_counter() - started)
        return report


class StressSession:
    def __init__(
        self,
        plan: SessionPlan,
        config: StressConfig,
        server: ServerSide,
        bank: SpeechBank | None,
        on_turn: Callable[[], None] = lambda: None,
        *,
        journal: JournalStore | None = None,
        key: str | None = None,
        generation: int = 0,
    ) -> None:
        """``journal`` and ``key``: the session records there (``--journal``);
        ``generation``: how many times it was handed to another worker (0: it starts
        here; more: :meth:`resume` it)."""
        self.plan = plan
        self.config = config
        self.server = server
        self.bank = bank
        self.on_turn = on_turn
        self.journal, self.key, self.generation = journal, key, generation
        # A resumed session is not dropped again: the killed worker may have done it.
        self._drop_at = plan.drop_at if generation == 0 else None
        self.outcome = SessionOutcome(
            plan.index, plan.policy, dropped=self._drop_at is not None, resumes=generation
        )
        self.session: TimedSession | None = None
        self.runner: AgentRunner | None = None
        self.judge: SessionJudge | None = None
        self._turns = user_turns(plan.seed, config.impatient_fraction if bank is None else 0.0)
        self._said = 0
        self._rng = random.Random(plan.seed)
        self._seen = 0  # runner events consumed: any change means "not settled yet"
        self._generations = 0  # in-band generations started (a spoken turn waits for one)
        self._drops = 0  # disconnections seen (a spoken turn in the old server's buffer is gone)
        self._reconnected = 0  # restores done (until then, a spoken turn would be lost)
        self._final = False  # a drop with no reconnect to follow
        self._wake: asyncio.Future[None] | None = None
        self._consumer: asyncio.Task[None] | None = None

    # -- connecting ---------------------------------------------------------------------

    async def connect(self, url: str) -> None:
        agent = make_agent(self.config, self.plan.index)
        options = SessionOptions(seed=self.plan.seed, strategy=strategy_named(self.config.strategy))
        session = await TimedSession.connect(
            url,
            api_key=API_KEY,
            model=model_name(self.plan.index),
            session=session_config(self.config, agent),
            options=options,
            journal=self.journal,
            key=self.key,
        )
        assert isinstance(session, TimedSession)
        self.judge = SessionJudge(session.core, self.server.store, self.server.dropped)
        self._started(session, agent)

    async def resume(self, url: str, reader: JournalStore | None = None) -> None:
        """Resume the session from the journal on this worker's simulator (its worker was
        killed). The judge reads what the restore must rebuild from the journal itself,
        before the resume reads it through ``reader`` (the same store unless a test
        breaks it), and follows the session from its first frame.

        The user was in the middle of a turn when the worker died (waiting for the
        agent), so :meth:`run` first waits until the resumed agent is idle (the reply
        it owed, the tools it runs again) before the next turn, as after any turn: a
        turn typed at once would ask a reply of its own behind the owed one, which the
        first reply has already answered (a duplicate the application asked for)."""
        assert self.journal is not None and self.key is not None
        expected = resume_entries(self.journal.load(self.key))
        self.server.answered = answered_inputs(expected)
        agent = make_agent(self.config, self.plan.index)
        options = SessionOptions(
            seed=self.plan.seed + RESUME_SEED_STEP * self.generation,
            strategy=strategy_named(self.config.strategy),
        )
        opening = TimedSession.resume(
            url,
            journal=reader or self.journal,
            key=self.key,
            api_key=API_KEY,
            model=model_name(self.plan.index),
            session=session_config(self.config, agent),
            options=options,
        )
        judge = SessionJudge(opening.session.core, self.server.store, self.server.dropped)
        judge.expect_resume(expected)
        self.judge = judge
        session = await opening
        assert isinstance(session, TimedSession)
        self._started(session, agent)

    def _started(self, session: TimedSession, agent: Agent) -> None:
        self.session = session
        session.update_latencies = self.outcome.update_latencies
        self.runner = agent.start(session)
        self._consumer = asyncio.ensure_future(self._consume(self.runner))

    async def _consume(self, runner: AgentRunner) -> None:
        """Reads the runner's events (they queue up unread otherwise) and wakes a turn
        waiting for the session to settle."""
        async for event in runner.events():
            self._seen += 1
            if isinstance(event, app.GenerationStarted) and not event.generation.out_of_band:
                self._generations += 1
            elif isinstance(event, app.Disconnected):
                self._drops += 1
                self._final = self._final or not event.will_reconnect
            elif isinstance(event, app.Reconnected):
                self._reconnected += 1
            elif isinstance(event, app.Resumed):
                self.outcome.resume_lost += len(event.lost)
            elif isinstance(event, app.ServerErrorEvent):
                self._note(f"server error {event.code}: {event.message}")
            waker = self._wake
            if waker is not None and not waker.done():
                waker.set_result(None)

    # -- the timed phase ----------------------------------------------------------------

    async def run(self, phase: Phase) -> None:
        """Turns until the phase stops, then until quiet (bounded); never raises."""
        if self.session is None:
            return  # the connect failure is already in the outcome
        loop = asyncio.get_running_loop()
        drop = asyncio.ensure_future(self._drop_later(phase)) if self._drop_at else None
        try:
            if self.generation and not await self._until_idle(
                min(loop.time() + self.config.turn_timeout, phase.end)
            ):
                self.outcome.stalls += 1
            while loop.time() < phase.stop:
                if not await self._one_turn(phase):
                    break
                await self._think(phase)
            await self._settle(phase.end)
        except Exception as exc:  # a session's failure is counted, never the run's
            self.outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            if drop is not None:
                drop.cancel()

    async def finish(self) -> SessionOutcome:
        """Judge (once every session is quiet: a judgement blocks the loop for a while,
        which must not stall sessions still finishing) and close; never raises."""
        try:
            if self.session is not None and self.outcome.error is None:
                self._judge()
        except Exception as exc:
            self.outcome.error = f"judging failed: {type(exc).__name__}: {exc}"
        finally:
            await self._close()
        return self.outcome

    async def _one_turn(self, phase: Phase) -> bool:
        """One user turn until the agent is idle again; False when the session is over."""
        assert self.runner is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = min(started + self.config.turn_timeout, phase.end)
        turn = next(self._turns)
        try:
            async with asyncio.timeout_at(deadline):
                await self._play(turn, deadline)
        except TimeoutError:
            self.outcome.stalls += 1
            return True
        except SessionClosed as exc:
            self._note(f"turn ended the session: {exc}")
            return False
        except ConnectionLost as exc:
            if exc.final:
                self._note(f"turn ended the session: {type(exc).__name__}: {exc}")
                return False
            # A reply asked for just before a drop fails (it is not carried over), and so
            # does a spoken turn the old server had not committed. The session reconnects
            # and restores; the user waits for the agent to be back, then goes on.
            self.outcome.turn_errors += 1
            with contextlib.suppress(TimeoutError):
                await self._until_idle(deadline)
            return True
        except AccordError as exc:
            self.outcome.turn_errors += 1
            self._note(f"turn failed: {type(exc).__name__}: {exc}")
            return True
        now = loop.time()
        self.outcome.turns += 1
        self.outcome.turn_seconds.append(now - started)
        self.outcome.last_turn_end = now
        self.on_turn()
        return True

    async def _think(self, phase: Phase) -> None:
        """The user's pause before the next turn: ``think_ms`` +/- half, seeded (none by
        default: the run then measures what the stack can do, not what users ask)."""
        if self.config.think_ms <= 0:
            return
        loop = asyncio.get_running_loop()
        pause = self._rng.uniform(0.5, 1.5) * self.config.think_ms / 1000.0
        await asyncio.sleep(max(0.0, min(pause, phase.stop - loop.time())))

    async def _play(self, turn: UserTurn, deadline: float) -> None:
        """Say (or speak) the turn, then wait for the agent: until idle, or, for an
        impatient user, until the reply is done (its tools may still run)."""
        assert self.runner is not None
        if self.bank is not None:
            assert self.session is not None
            while self._drops != self._reconnected:  # nobody speaks into a dead line
                if self._final:
                    raise ConnectionLost("the connection is gone for good", final=True)
                await self._wait_event(POLL_SECONDS)
            before, drops, links = self._generations, self._drops, self.session.reconnects
            self.runner.speak(self.bank.utterance(turn.text))
            while self._generations == before:  # the server's VAD ends the turn
                if self._drops != drops or self.session.reconnects != links:
                    # The audio died with the old connection (uncommitted audio is not part
                    # of the conversation to restore): the user would say it again.
                    raise ConnectionLost("the spoken turn was lost with the connection")
                await self._wait_event(POLL_SECONDS)
        else:
            reply = await self._say(turn.text)
            if turn.impatient:
                await reply.wait()
                return
        if not await self._until_idle(deadline):
            raise TimeoutError

    async def _say(self, text: str) -> Generation:
        """The runner's ``say``, keeping the reply's generation: the message goes after
        everything (a push from the session's own snapshot), then a reply is asked for."""
        assert self.session is not None
        self._said += 1
        ctx = self.session.chat_ctx
        ctx.append(Message(id=self._turn_id(), role="user", content=text))
        await self.session.update_chat_ctx(ctx)
        return await self.session.generate_reply()

    def _turn_id(self) -> str:
        """The user message's id: a resumed session counts its turns afresh, so its ids
        name the generation (the restored conversation holds the earlier ones)."""
        if self.generation == 0:
            return f"u{self.plan.index}_{self._said}"
        return f"u{self.plan.index}g{self.generation}_{self._said}"

    async def _until_idle(self, deadline: float) -> bool:
        """Until the agent is idle (no tool, policy, operation, response or transcript
        pending) and stays so for ``settle`` with no event; False at the deadline."""
        assert self.runner is not None
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            if self.runner.is_idle():
                mark = self._seen
                await asyncio.sleep(self.config.settle)
                if self.runner.is_idle() and self._seen == mark:
                    return True
                continue
            await self._wait_event(POLL_SECONDS)
        return False

    async def _wait_event(self, timeout: float) -> None:
        """Until the next runner event or ``timeout``: one future and one timer, far
        cheaper than a task per wait with a thousand sessions on one loop."""
        loop = asyncio.get_running_loop()
        waker: asyncio.Future[None] = loop.create_future()
        self._wake = waker
        timer = loop.call_later(timeout, _resolve, waker)
        try:
            await waker
        finally:
            timer.cancel()
            self._wake = None

    async def _drop_later(self, phase: Phase) -> None:
        """The fault: some server events after ``drop_at`` of the timed phase, the
        simulator closes the connection (1011), mid-whatever the session is doing."""
        assert self._drop_at is not None
        loop = asyncio.get_running_loop()
        at = phase.start + self._drop_at * (phase.stop - phase.start)
        await asyncio.sleep(max(0.0, at - loop.time()))
        current = self.server.current()
        if current is not None:
            current.faults.close_after_events = (
                current.events_delivered + self.plan.drop_after_events
            )

    # -- the end ------------------------------------------------------------------------

    async def _settle(self, deadline: float) -> None:
        """Until the client is idle and the simulator's side quiet, several checks in a
        row (bounded by the grace period)."""
        assert self.runner is not None
        loop = asyncio.get_running_loop()
        streak = 0
        while streak < 3 and loop.time() < deadline:
            quiet = self.runner.is_idle() and self.server.quiet()
            streak = streak + 1 if quiet else 0
            await asyncio.sleep(self.config.settle if quiet else POLL_SECONDS)
        self.outcome.settled = streak >= 3

    def _judge(self) -> None:
        assert self.judge is not None and self.runner is not None and self.session is not None
        verdict = self.judge.verdict()
        out = self.outcome
        if out.settled:
            found = verdict.violations
        else:
            # Not quiet: only what holds at any moment is judged (what is in transit would
            # look like a divergence); the session counts as an error.
            found = [v for v in verdict.violations if v.invariant.value in (1, 2, 4, 7)]
            out.error = "did not settle within the grace period"
        out.judged = True
        out.violations = len(found)
        out.lost_items = len(verdict.lost_items & {v.item_id for v in found if v.item_id})
        out.ops_sent, out.resolved = verdict.ops_sent, verdict.resolved
        out.restores_judged = verdict.restores_judged
        stats = self.runner.stats
        injected = self.config.server_errors > 0
        out.server_errors = sum(
            not (injected and line.startswith("server_error:")) for line in stats.server_errors
        )
        out.injected_errors = self.server.refusals()
        out.evicted_items = self.server.evicted()
        out.duplicate_replies = self.server.duplicate_replies()
        out.calls_without_one_output = verdict.calls_without_one_output
        if out.calls_without_one_output:
            self._note(f"{out.calls_without_one_output} call(s) without exactly one output")
        if out.duplicate_replies:
            self._note(f"{out.duplicate_replies} duplicate repl(ies) on the server")
        out.pushes, out.pushes_during_calls = stats.pushes, stats.pushes_during_calls
        out.deferred, out.aliased, out.tool_calls = stats.deferred, stats.aliased, stats.tool_calls
        out.reconnects = self.session.reconnects
        for violation in found[:MAX_DETAILS]:
            self._note(str(violation))

    async def _close(self) -> None:
        self.outcome.server_events = self.server.events()
        if self.runner is not None:
            with contextlib.suppress(Exception):
                await self.runner.aclose()
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.aclose()
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._consumer

    def _note(self, line: str) -> None:
        if len(self.outcome.details) < MAX_DETAILS * 2:
            self.outcome.details.append(line)


def _resolve(waker: asyncio.Future[None]) -> None:
    if not waker.done():
        waker.set_result(None)
