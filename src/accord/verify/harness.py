"""A client strategy and the server's store joined by two FIFO channels, one event at a time.

The pair of h11's tests, for accord: whatever the client sends goes into the up channel,
whatever the server does goes into the down channel, and a test (or the explorer, or the
state machine) decides which channel moves next. Every operation the client sends and
every resolution it reports is recorded in a :class:`CheckLog` with the store's
transition counter, so the checker can judge the run. The server's side is played here
with the store's own methods: the store knows nothing of the client. A reconnect starts
a new server session, and its restore is judged by the one restore judge
(:mod:`accord.verify.restore`), as in the stress run and the session tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from accord.client.core import SessionCore
from accord.client.frames import op_frame
from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.interface import Client, Strategy
from accord.engine.merge import Rules
from accord.engine.scheduler import Capabilities
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import error_codes as codes
from accord.sim.errors import ServerError
from accord.sim.store import Added, ConversationStore
from accord.verify.checker import (
    Violation,
    check_idempotence,
    check_no_lost_item,
    check_quiet,
    check_transition,
)
from accord.verify.log import (
    CheckLog,
    DeleteReason,
    OpRecord,
    PushRecord,
    Resolution,
    Status,
    ToolReport,
    op_record,
)
from accord.verify.restore import DropEntry, PendingRestore, carry_open, drop_entries, judge_restore
from accord.verify.strategies import make_strategy
from accord.verify.wire import ServerWire, as_sent, op_from_frame, sets_turn_detection

BUSY_MESSAGE = (
    "Conversation already has an active response in progress: {rid}. Wait until the "
    "response is finished before creating a new one."
)  # observed (docs/protocol-notes.md)


DEFAULT_RULES = Rules()  # a seam: the anti-toy tests switch rules off for whole test files

_T = TypeVar("_T")


def make_client(
    strategy: str,
    *,
    rules: Rules | None = None,
    seed: int = 0,
    capabilities: Capabilities | None = None,
    server_vad: bool = False,
) -> Client:
    config = EngineConfig(
        rules=rules or DEFAULT_RULES,
        capabilities=capabilities or Capabilities(),
        server_vad=server_vad,
    )
    return make_strategy(strategy, config, seed)


@dataclass
class ServerResponse:
    """A response the server side is generating (in-band unless ``out_of_band``)."""

    response_id: str
    out_of_band: bool = False
    items: list[str] = field(default_factory=list)


RefusedKind = Literal["create", "create_output", "delete", "response"]
SERVER_ERROR = codes.SERVER_ERROR


@dataclass
class Pair:
    """Client + store + two FIFO channels + the check log."""

    strategy: str = "accord"
    rules: Rules | None = None
    seed: int = 0
    capabilities: Capabilities | None = None
    auto_reply: Callable[[Pair, str], list[Item]] | None = None
    server_vad: bool = False  # the client configured turn detection (restores turn it off)
    core: SessionCore = field(init=False)  # the client's session core: frames in and out
    wire: ServerWire = field(init=False)  # the server side's frames
    store: ConversationStore = field(init=False)
    log: CheckLog = field(init=False)
    up: deque[ev.ClientOp] = field(default_factory=deque)
    down: deque[ev.ServerInput] = field(default_factory=deque)
    now: float = 0.0
    reports: list[ev.PushReport] = field(default_factory=list)
    ready_calls: list[FunctionCall] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    errors: list[ev.ServerError] = field(default_factory=list)
    transition_violations: list[Violation] = field(default_factory=list)
    restore_violations: list[Violation] = field(default_factory=list)
    active: ServerResponse | None = None
    out_of_band: dict[str, ServerResponse] = field(default_factory=dict)
    response_views: dict[str, list[str]] = field(default_factory=dict)
    response_sights: dict[str, ResponseSight] = field(default_factory=dict)
    session: int = 0  # which server session: each reconnect starts a new one
    past: list[tuple[ConversationStore, CheckLog]] = field(default_factory=list)  # ended sessions
    app_requests: set[str] = field(default_factory=set)  # response.create the app asked for
    served_requests: dict[str, str] = field(default_factory=dict)  # response id -> request
    known_responses: set[str] = field(default_factory=set)  # response.created the client read
    # For each response.create: the responses the client knew of when it last sent it.
    known_at_send: dict[str, frozenset[str]] = field(default_factory=dict)
    lost_reported: list[str] = field(default_factory=list)
    handle_hook: Callable[[ev.ClientOp], None] | None = None  # sees every op sent
    refusals: list[tuple[RefusedKind, str]] = field(default_factory=list)  # see refuse_next
    vad_on_server: bool = True  # the server session's turn detection, as session.update set it
    _n: int = 0
    _creates_checked: int = 0
    _unjudged_restore: list[DropEntry] | None = None
    _held: list[ev.Effect] | None = None  # effects of a local call, handled after it
    _outputs: dict[str, Item] = field(default_factory=dict)  # output items announced

    def __post_init__(self) -> None:
        client = make_client(
            self.strategy,
            rules=self.rules,
            seed=self.seed,
            capabilities=self.capabilities,
            server_vad=self.server_vad,
        )
        # The client is driven through a session core, as a session drives it: what the
        # server side emits reaches the engine only as frames the core decodes.
        self.core = SessionCore(
            strategy=Strategy(self.strategy, lambda _config, _seed: client),
            on_effect=self._effect,
        )
        self.wire = ServerWire(self._outputs.get)
        self.store = ConversationStore()
        self.log = CheckLog()

    @property
    def client(self) -> Client:
        """The strategy under test (read it; drive it through the pair's methods, which
        go through the core)."""
        return self.core.engine

    def _effect(self, effect: ev.Effect) -> None:
        if self._held is not None:
            self._held.append(effect)
        else:
            self.handle((effect,))

    def _local(self, call: Callable[[], _T]) -> tuple[_T, list[ev.Effect]]:
        """A local call on the core, with the effects it caused (handled by the caller,
        after it has logged the call)."""
        self._held = []
        try:
            result = call()
            return result, self._held
        finally:
            self._held = None

    # -- identifiers --------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    # -- the client side ----------------------------------------------------------------

    def handle(self, effects: Iterable[ev.Effect]) -> None:
        """Carry out the client's effects: queue sends, log decisions and resolutions."""
        for effect in effects:
            if isinstance(effect, ev.Send):
                self._log_send(effect)
                if isinstance(effect.op, ev.CreateResponse):
                    self.known_at_send[effect.op.event_id] = frozenset(self.known_responses)
                self.up.append(effect.op)
                if self.handle_hook is not None:
                    self.handle_hook(effect.op)
            elif isinstance(effect, ev.OpResolved) and effect.event_id in self.log.ops:
                self.log.resolve(
                    Resolution(effect.event_id, _status(effect.status), self.now, effect.code)
                )
            elif isinstance(effect, ev.ContextSynced):
                self.reports.append(effect.report)
            elif isinstance(effect, ev.FunctionCallReady):
                self.ready_calls.append(effect.call)
            elif isinstance(effect, ev.CallOrphaned):
                self.orphaned.append(effect.call_id)
            elif isinstance(effect, ev.Reconnected):
                self.lost_reported.extend(effect.lost)
                self._judge_restore()
            elif isinstance(effect, ev.Notice):
                self.notices.append(effect.text)

    def _log_send(self, effect: ev.Send) -> None:
        if effect.op.event_id in self.log.ops:
            return  # a busy-refused request sent again (R14): the same operation, logged once
        self.log.op(op_record(effect, self.store.transitions, self.now))

    def push(self, ctx: ChatContext, *, explicit_replace: bool = False) -> str:
        current = as_sent(self.client, self.client.context().items)
        push_id, effects = self._local(
            lambda: self.core.push(ctx, self.now, explicit_replace=explicit_replace)
        )
        self.log.push(
            PushRecord(
                push_id,
                as_sent(self.client, ctx.base.items) if ctx.base is not None else None,
                as_sent(self.client, ctx.items),
                self.store.transitions,
                current=current,
                explicit_replace=explicit_replace,
            )
        )
        self.handle(effects)
        return push_id

    def snapshot(self) -> ChatContext:
        return self.client.context()

    def tool_started(self, call_id: str) -> None:
        self.log.tool(ToolReport(call_id, "started", self.store.transitions))
        self.core.tool_started(call_id, self.now)

    def tool_finished(self, call_id: str, output: str = '{"ok": true}') -> None:
        self.log.tool(ToolReport(call_id, "finished", self.store.transitions))
        self.core.tool_finished(call_id, output, self.now)

    def tool_abandoned(self, call_id: str, *, delete: bool = True) -> None:
        self.log.tool(ToolReport(call_id, "abandoned", self.store.transitions))
        self.core.tool_abandoned(call_id, self.now, delete=delete)

    def generate_reply(self, **kwargs: object) -> str:
        event_id, effects = self._local(lambda: self.core.generate_reply(self.now, **kwargs))
        self.app_requests.add(event_id)
        self.handle(effects)
        return event_id

    def interrupt(self, item_id: str | None = None, played_ms: int | None = None) -> None:
        self.core.interrupt(self.now, played_ms, item_id=item_id)

    # -- moving the channels ------------------------------------------------------------

    def deliver_up(self, n: int = 1) -> int:
        """The server processes up to ``n`` client events; returns how many it did."""
        done = 0
        while done < n and self.up:
            # Through the wire: the frame a session sends, read as the server reads it.
            op = self.up.popleft()
            turn = {"type": "server_vad"} if isinstance(op, ev.UpdateSession) else None
            self._serve(op_from_frame(op_frame(op, turn)))
            done += 1
            self._check_transition()
        return done

    def deliver_down(self, n: int = 1) -> int:
        done = 0
        while done < n and self.down:
            event = self.down.popleft()
            if isinstance(event, ev.ResponseCreated):
                self.known_responses.add(event.response_id)
            for frame in self.wire.frames(event):  # the server's frames, decoded by the core
                self.core.receive_frame(frame, self.now)
            done += 1
        return done

    def settle(self, limit: int = 10_000) -> None:
        """Move both channels until nothing is in transit (server first, like a LAN)."""
        for _ in range(limit):
            if not self.up and not self.down:
                return
            self.deliver_up(len(self.up))
            self.deliver_down(len(self.down))
        raise RuntimeError("the pair did not settle")

    # -- the server side ----------------------------------------------------------------

    def emit(self, *events: ev.ServerInput) -> None:
        self.down.extend(events)

    def _added(self, outcome: Added) -> None:
        self.emit(
            ev.ItemAdded(outcome.item, outcome.previous_item_id),
            ev.ItemUpdated(outcome.item, done=True),
        )

    def _error(self, err: ServerError) -> None:
        self.errors.append(ev.ServerError(err.code, err.message, err.event_id))
        self.emit(ev.ServerError(err.code, err.message, err.event_id))

    def refuse_next(self, kind: RefusedKind, code: str = SERVER_ERROR) -> None:
        """The server answers the next client op of ``kind`` with an error (``code``,
        ``server_error`` by default) instead of doing it: a refusal to survive."""
        self.refusals.append((kind, code))

    def other_writer_deletes(self, item_id: str) -> None:
        """Another writer (a second connection to the same conversation) deletes an item
        it saw: logged as that writer's decision, so the judge holds it to the same rule,
        and announced to this client as the server announces any delete."""
        self._n += 1
        push_id, event_id = f"other-push-{self._n}", f"other-delete-{self._n}"
        items = tuple(self.store.items())
        at = self.store.transitions
        self.log.push(PushRecord(push_id, items, tuple(i for i in items if i.id != item_id), at))
        self.log.op(
            OpRecord(
                event_id,
                "delete",
                at,
                item_id=item_id,
                push_id=push_id,
                reason=DeleteReason.PUSH,
                writer="other",
            )
        )
        if not isinstance(self.store.delete(item_id, event_id=event_id), ServerError):
            self.emit(ev.ItemDeleted(item_id))
        self.log.resolve(Resolution(event_id, "success", self.now))
        self._check_transition()

    def _refused(self, op: ev.ClientOp) -> bool:
        kind: RefusedKind | None = None
        if isinstance(op, ev.CreateItem):
            kind = "create_output" if isinstance(op.item, FunctionCallOutput) else "create"
        elif isinstance(op, ev.DeleteItem):
            kind = "delete"
        elif isinstance(op, ev.CreateResponse) and not op.out_of_band:
            kind = "response"
        for index, (wanted, code) in enumerate(self.refusals):
            if wanted == kind:
                del self.refusals[index]
                self._error(ServerError(code, f"refused for the test ({code})", None, op.event_id))
                return True
        return False

    def _serve(self, op: ev.ClientOp) -> None:
        if self.refusals and self._refused(op):
            return
        if isinstance(op, ev.CreateItem):
            outcome = self.store.create(op.item, op.previous_item_id, event_id=op.event_id)
            if isinstance(outcome, ServerError):
                self._error(outcome)
            else:
                self._added(outcome)
        elif isinstance(op, ev.DeleteItem):
            deleted = self.store.delete(op.item_id, event_id=op.event_id)
            if isinstance(deleted, ServerError):
                self._error(deleted)
            else:
                self.emit(ev.ItemDeleted(op.item_id))
        elif isinstance(op, ev.RetrieveItem):
            found = self.store.retrieve(op.item_id, event_id=op.event_id)
            if isinstance(found, ServerError):
                self._error(found)
            elif isinstance(found.item, Message | FunctionCall | FunctionCallOutput):
                self.emit(ev.ItemRetrieved(found.item))
        elif isinstance(op, ev.TruncateItem):
            cut = self.store.truncate(
                op.item_id, op.content_index, op.audio_end_ms, event_id=op.event_id
            )
            if isinstance(cut, ServerError):
                self._error(cut)
            else:
                self.emit(ev.ItemTruncated(op.item_id, op.audio_end_ms))
        elif isinstance(op, ev.CreateResponse):
            self._serve_response(op)
        elif isinstance(op, ev.CancelResponse):
            if self.active is None:
                self._error(
                    ServerError(
                        codes.CANCEL_NOT_ACTIVE,
                        "Cancellation failed: no active response found",
                        None,
                        op.event_id,
                    )
                )
            else:
                self.server_finish(self.active.response_id, "cancelled")
        elif isinstance(op, ev.UpdateSession):
            if sets_turn_detection(op):
                self.vad_on_server = op.server_vad
            self.emit(ev.SessionUpdated(op.event_id))

    def _serve_response(self, op: ev.CreateResponse) -> None:
        if not op.out_of_band and self.active is not None:
            self._error(
                ServerError(
                    codes.BUSY,
                    BUSY_MESSAGE.format(rid=self.active.response_id),
                    None,
                    op.event_id,
                )
            )
            return
        rid = self.server_start(out_of_band=op.out_of_band, metadata=op.metadata)
        self.served_requests[rid] = op.event_id
        if op.out_of_band:
            summary = Message(id=self.new_id("oob"), role="assistant", content="summary")
            self._outputs[summary.id] = summary
            self.out_of_band[rid].items.append(summary.id)
            self.emit(ev.OutputItemAdded(rid, summary.id), ev.ItemUpdated(summary, done=True))
            self.server_finish(rid)
            return
        reply = self.auto_reply(self, rid) if self.auto_reply else []
        for item in reply:
            self.server_add(rid, item)
        self.server_finish(rid)

    def server_start(
        self, *, out_of_band: bool = False, metadata: dict[str, str] | None = None
    ) -> str:
        """``response.created`` (a VAD response when nothing asked for it)."""
        rid = self.new_id("resp")
        response = ServerResponse(rid, out_of_band)
        if out_of_band:
            self.out_of_band[rid] = response
        else:
            if self.active is not None:
                raise RuntimeError("server_start while a response is active")
            self.active = response
            self.response_views[rid] = self.store.ids()
            self.response_sights[rid] = _sight(self.store.items(), self.session)
        self.emit(ev.ResponseCreated(rid, out_of_band, dict(metadata or {})))
        return rid

    def server_add(
        self, rid: str, item: Item, *, after: str | None = None, done: bool = True
    ) -> None:
        """One output item of the active response, placed after the last item.

        ``after`` names the anchor the server announces: as seen in production (race R6),
        ``conversation.item.added`` may name an item the server confirmed deleted a
        moment earlier; the store places the item after that one's surviving predecessor.
        """
        outcome = self.store.add_output_item(item, rid, after=after)
        self._outputs[item.id] = outcome.item
        if self.active is not None and self.active.response_id == rid:
            self.active.items.append(item.id)
        announced = outcome.previous_item_id if after is None else after
        self.emit(ev.OutputItemAdded(rid, item.id), ev.ItemAdded(outcome.item, announced))
        if done:
            self.emit(ev.ItemUpdated(item, done=True))
        self._check_transition()

    def server_stream(self, item: Item, *, done: bool = False) -> None:
        """The item's content grows on the server (text, audio length, arguments)."""
        if item.id in self._outputs:
            self._outputs[item.id] = item
        if self.store.update_output_item(item):
            self.emit(ev.ItemUpdated(item, done=done))

    def server_finish(self, rid: str, status: ev.ResponseStatus = "completed") -> None:
        self.store.finish_response(rid)
        if self.active is not None and self.active.response_id == rid:
            self.active = None
        self.out_of_band.pop(rid, None)
        self.emit(ev.ResponseDone(rid, status))

    def server_user_audio(self, item_id: str | None = None) -> str:
        """Server VAD committed user speech: an item with no transcript yet."""
        outcome = self.store.add_user_audio(item_id or self.new_id("u"))
        self.emit(
            ev.ItemAdded(outcome.item, outcome.previous_item_id),
            ev.ItemUpdated(outcome.item, done=True),
        )
        self._check_transition()
        return outcome.item.id

    def server_transcript(self, item_id: str, text: str | None) -> None:
        self.store.complete_transcript(item_id, text)
        self.emit(ev.TranscriptDone(item_id, text))

    def server_error(self, code: str, message: str, event_id: str | None = None) -> None:
        self._error(ServerError(code, message, None, event_id))

    # -- disconnects --------------------------------------------------------------------

    def drop(self) -> None:
        """The socket dies: both channels lose what was in them; the server session ends."""
        self.up.clear()
        self.down.clear()
        self.active = None
        self.out_of_band.clear()
        self.core.connection_lost(self.now)

    def reconnect(self, *, settle: bool = True) -> None:
        """A new, empty server session; the client restores; the restore is judged.

        ``settle=False`` leaves the restore in the channels, so a test can interleave
        events with it (race R7); the restore is then judged when the client reports it
        done, against the store at that moment (so let the server process the restore
        before what follows it), or by ``violations`` if it never reports it done.
        """
        at_drop = drop_entries(self.client, self.store, self.log)
        self.past.append((self.store, self.log))  # judged at the end like the live one
        self.store = ConversationStore()
        self.session += 1
        self.vad_on_server = True  # a new server session starts with its defaults
        self._creates_checked = 0
        self.log = carry_open(self.log)
        self.lost_reported.clear()
        if not settle:
            self._unjudged_restore = at_drop
        self.core.connected_again(self.now)
        if not settle:
            return
        self.settle()
        self._restore_verdict(at_drop)

    def _judge_restore(self) -> None:
        at_drop, self._unjudged_restore = self._unjudged_restore, None
        self._restore_verdict(at_drop)

    def _restore_verdict(self, at_drop: list[DropEntry] | None) -> None:
        if at_drop is not None:
            self.restore_violations.extend(
                judge_restore(
                    self.store,
                    self.log,
                    PendingRestore(tuple(at_drop)),
                    self.lost_reported,
                    over_the_wire=True,  # the pair's channels carry frames
                )
            )

    # -- judging ------------------------------------------------------------------------

    def _check_transition(self) -> None:
        self.transition_violations.extend(
            check_transition(self.store, self._creates_checked, self.log)
        )
        self._creates_checked = len(self.store.creates)
        self.transition_violations = _dedupe(self.transition_violations)

    def violations(self) -> list[Violation]:
        """Every invariant at quiet, plus what failed on the way and after restores."""
        self._judge_restore()  # a restore the client never reported done
        found = check_quiet(self.store, self.log, self.client.mirror_items())
        for store, log in self.past:  # what went wrong before a drop stays wrong
            found += check_no_lost_item(store, log) + check_idempotence(log)
        return _dedupe(self.transition_violations + self.restore_violations + found)

    def server_ids(self) -> list[str]:
        return self.store.ids()


@dataclass(frozen=True, slots=True)
class ResponseSight:
    """What an in-band response saw of the tool outputs when it started, by call id:
    every output in its view, and the outputs it answers (the calls and outputs that
    end its view, after the last message)."""

    session: int
    saw: frozenset[str]
    answers: frozenset[str]


def _sight(items: list[Item], session: int) -> ResponseSight:
    saw = frozenset(i.call_id for i in items if isinstance(i, FunctionCallOutput))
    answers: set[str] = set()
    for item in reversed(items):
        if isinstance(item, FunctionCallOutput):
            answers.add(item.call_id)
        elif not isinstance(item, FunctionCall):
            break
    return ResponseSight(session, saw, frozenset(answers))


def _status(status: ev.Resolution) -> Status:
    return "success" if status == "moot" else status


def _dedupe(found: list[Violation]) -> list[Violation]:
    seen: set[Violation] = set()
    out: list[Violation] = []
    for v in found:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out
