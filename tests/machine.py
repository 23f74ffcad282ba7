"""A hypothesis state machine over engine + store with two FIFO channels.

Random server responses (messages, parallel function calls, cancellations), user audio
with late transcripts, pushes from random earlier bases, tool reports, out-of-band
responses, stray server errors and disconnects with restore, interleaved with the two
channels moving one event at a time. Invariants 2 and 4 are checked on every store
transition (the harness records them); the rest when the run is driven to quiet.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from accord.engine.merge import Rules
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Message
from accord.verify.checker import Violation
from accord.verify.harness import Pair
from accord.verify.quiet import drive_to_quiet


def describe(found: list[Violation]) -> str:
    return "; ".join(str(v) for v in found)


class EngineMachine(RuleBasedStateMachine):
    strategy = "accord"
    engine_rules: Rules | None = None  # None: the harness default
    disconnects = True

    def __init__(self) -> None:
        super().__init__()
        self.p = Pair(self.strategy, rules=self.engine_rules)
        self.snapshots: list[ChatContext] = []
        self.n = 0

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    @initialize()
    def seed_conversation(self) -> None:
        ctx = self.p.snapshot()
        for i in range(3):
            role = "user" if i % 2 == 0 else "assistant"
            ctx.append(Message(id=self.fresh("m"), role=role, content=f"turn {i}"))
        self.p.push(ctx)
        self.p.settle()
        self.snapshots.append(self.p.snapshot())

    # -- the writer ---------------------------------------------------------------------

    @rule()
    def take_snapshot(self) -> None:
        self.snapshots.append(self.p.snapshot())
        del self.snapshots[:-6]

    @rule(data=st.data())
    def push_edit(self, data: st.DataObject) -> None:
        base = data.draw(st.sampled_from(self.snapshots))
        ctx = base.copy()
        items = list(ctx)
        for item in items:
            if data.draw(st.integers(0, 9)) == 0:
                ctx.remove(item.id)
        if data.draw(st.booleans()):
            anchor = data.draw(st.sampled_from([None, *ctx.ids()]))
            ctx.insert_after(anchor, Message(id=self.fresh("w"), role="user", content="note"))
        editable = [i for i in ctx if isinstance(i, Message | FunctionCallOutput)]
        if editable and data.draw(st.integers(0, 3)) == 0:
            target = data.draw(st.sampled_from(editable))
            if isinstance(target, Message) and target.content is not None:
                ctx.replace(
                    Message(
                        id=target.id,
                        role=target.role,
                        content="redacted",
                        audio=target.audio,
                        audio_ms=target.audio_ms,
                        interrupted=target.interrupted,
                    )
                )
            elif isinstance(target, FunctionCallOutput):
                ctx.replace(
                    FunctionCallOutput(id=target.id, call_id=target.call_id, output="[redacted]")
                )
        self.p.push(ctx)

    @rule()
    def push_same_again(self) -> None:
        self.p.push(self.p.snapshot())

    # -- the server ---------------------------------------------------------------------

    @precondition(lambda self: self.p.active is None)
    @rule(calls=st.integers(0, 2), text=st.booleans())
    def server_response(self, calls: int, text: bool) -> None:
        rid = self.p.server_start()
        if text:
            self.p.server_add(
                rid,
                Message(id=self.fresh("a"), role="assistant", content="spoken reply"),
                done=False,
            )
        for _ in range(calls):
            cid = self.fresh("call")
            self.p.server_add(
                rid, FunctionCall(id=self.fresh("fc"), call_id=cid, name="tool", arguments="{}")
            )

    @precondition(lambda self: self.p.active is not None)
    @rule(status=st.sampled_from(["completed", "completed", "cancelled", "incomplete"]))
    def server_finish(self, status: str) -> None:
        assert self.p.active is not None
        rid = self.p.active.response_id
        for item_id in self.p.active.items:
            item = self.p.store.get(item_id)
            if item is not None:
                self.p.server_stream(item, done=True)
        self.p.server_finish(rid, status)  # type: ignore[arg-type]

    @rule()
    def user_speaks(self) -> None:
        self.p.server_user_audio(self.fresh("u"))

    @rule(data=st.data())
    def transcript_arrives(self, data: st.DataObject) -> None:
        waiting = [r.item.id for r in self.p.store.history() if r.alive and r.transcript_pending]
        if waiting:
            item_id = data.draw(st.sampled_from(waiting))
            self.p.server_transcript(item_id, data.draw(st.sampled_from(["words", None])))

    @rule()
    def stray_error(self) -> None:
        self.p.server_error("rate_limit_exceeded", "Rate limit reached.")

    @rule()
    def out_of_band(self) -> None:
        self.p.generate_reply(out_of_band=True, metadata={"purpose": "summary"})

    # -- tools ----------------------------------------------------------------------------

    @rule(data=st.data())
    def tool_progress(self, data: st.DataObject) -> None:
        started = {r.call_id for r in self.p.log.tool_reports if r.event == "started"}
        ended = {r.call_id for r in self.p.log.tool_reports if r.event != "started"}
        open_calls = [c for c in self.p.ready_calls if c.call_id not in ended]
        if not open_calls:
            return
        call = data.draw(st.sampled_from(open_calls))
        if call.call_id not in started:
            self.p.tool_started(call.call_id)
        else:
            self.p.tool_finished(call.call_id, '{"ok": true}')

    @rule()
    def abandon_orphans(self) -> None:
        ended = {r.call_id for r in self.p.log.tool_reports if r.event != "started"}
        for call_id in [c for c in self.p.orphaned if c not in ended]:
            self.p.tool_abandoned(call_id)

    # -- the channels -------------------------------------------------------------------

    @rule(n=st.integers(1, 3))
    def deliver_up(self, n: int) -> None:
        self.p.deliver_up(n)

    @rule(n=st.integers(1, 3))
    def deliver_down(self, n: int) -> None:
        self.p.deliver_down(n)

    @precondition(lambda self: self.disconnects)
    @rule()
    def disconnect_and_restore(self) -> None:
        self.p.drop()
        self.p.reconnect()
        self.snapshots = [self.p.snapshot()]

    # -- judging ------------------------------------------------------------------------

    @invariant()
    def every_transition_keeps_anchors_and_pairs(self) -> None:
        assert not self.p.transition_violations, describe(self.p.transition_violations)

    def teardown(self) -> None:
        drive_to_quiet(self.p)
        found = self.p.violations()
        assert not found, describe(found)
        assert self.p.client.mirror_items() == self.p.store.items()


def machine_for(
    strategy: str, rules: Rules | None = None, *, disconnects: bool = True
) -> type[EngineMachine]:
    """The machine driving ``strategy`` (with some rules switched off, for anti-toy tests)."""
    return type(
        f"EngineMachine_{strategy}",
        (EngineMachine,),
        {"strategy": strategy, "engine_rules": rules, "disconnects": disconnects},
    )
