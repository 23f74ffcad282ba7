"""The checker: each invariant fails on a log built to break it, and clean logs pass.

Every scenario drives the real store; the logs are what a strategy would record.
"""

from __future__ import annotations

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.sim.store import ConversationStore
from accord.verify.checker import (
    Invariant,
    Violation,
    check_anchors,
    check_convergence,
    check_idempotence,
    check_no_lost_item,
    check_pairs,
    check_quiet,
    check_resolutions,
)
from accord.verify.log import (
    CheckLog,
    DeleteReason,
    OpRecord,
    PushRecord,
    Resolution,
    ToolReport,
)
from accord.verify.restore import DropEntry, PendingRestore, judge_restore, normalize_for_restore


def user(i: str, text: str = "") -> Message:
    return Message(id=i, role="user", content=text or f"user {i}")


def assistant(i: str, text: str = "") -> Message:
    return Message(id=i, role="assistant", content=text or f"assistant {i}")


def invariants(found: list[Violation]) -> set[Invariant]:
    return {v.invariant for v in found}


class Harness:
    """A store plus a log, with helpers that record what they do like a strategy would."""

    def __init__(self) -> None:
        self.store = ConversationStore()
        self.log = CheckLog()
        self._n = 0

    def eid(self) -> str:
        self._n += 1
        return f"evt_{self._n}"

    def seed(self, *items: Item) -> None:
        for item in items:
            event_id = self.eid()
            self.log.op(OpRecord(event_id, "create", self.store.transitions, item_id=item.id))
            self.store.create(item, event_id=event_id)
            self.log.resolve(Resolution(event_id, "success"))

    def push(
        self,
        push_id: str,
        base: list[Item] | None,
        desired: list[Item],
        *,
        explicit_replace: bool = False,
    ) -> None:
        self.log.push(
            PushRecord(
                push_id,
                None if base is None else tuple(base),
                tuple(desired),
                self.store.transitions,
                current=tuple(self.store.items()),
                explicit_replace=explicit_replace,
            )
        )

    def delete(
        self,
        item_id: str,
        reason: DeleteReason,
        push_id: str | None = None,
        *,
        partner_of: str | None = None,
        played_ms: int | None = None,
    ) -> None:
        event_id = self.eid()
        self.log.op(
            OpRecord(
                event_id,
                "delete",
                self.store.transitions,
                item_id=item_id,
                push_id=push_id,
                reason=reason,
                partner_of=partner_of,
                played_ms=played_ms,
            )
        )
        self.store.delete(item_id, event_id=event_id)
        self.log.resolve(Resolution(event_id, "success"))

    def create(self, item: Item, prev: str | None, push_id: str | None = None) -> None:
        event_id = self.eid()
        self.log.op(
            OpRecord(event_id, "create", self.store.transitions, item_id=item.id, push_id=push_id)
        )
        outcome = self.store.create(item, prev, event_id=event_id)
        status = "error" if hasattr(outcome, "code") else "success"
        self.log.resolve(Resolution(event_id, status))


def r1_setup() -> tuple[Harness, list[Item], FunctionCall]:
    """Race R1: u0 a0 in the conversation, then the server adds fc1 from a response."""
    h = Harness()
    u0, a0 = user("u0"), assistant("a0")
    h.seed(u0, a0)
    base = h.store.items()
    fc1 = FunctionCall(id="fc1", call_id="call_1", name="lookup")
    h.store.add_output_item(fc1, "resp_1")
    h.store.finish_response("resp_1")
    return h, base, fc1


def test_clean_r1_passes_every_invariant() -> None:
    h, base, _fc1 = r1_setup()
    h.push("p1", base, base[1:])  # drop u0 only
    h.delete("u0", DeleteReason.PUSH, "p1")
    h.log.tool(ToolReport("call_1", "started", h.store.transitions))
    h.log.tool(ToolReport("call_1", "finished", h.store.transitions))
    h.create(FunctionCallOutput(id="out1", call_id="call_1", output="ok"), "fc1")
    assert check_quiet(h.store, h.log, mirror=h.store.items()) == []


def test_naive_r1_loses_the_call() -> None:
    """The naive strategy deletes fc1, which its base never held: invariant 1; the output
    then has no call (invalid_tool_call_id), so the push's create never lands: 3."""
    h, base, _fc1 = r1_setup()
    h.push("p1", base, base[1:])
    h.delete("u0", DeleteReason.PUSH, "p1")
    h.delete("fc1", DeleteReason.PUSH, "p1")
    h.create(FunctionCallOutput(id="out1", call_id="call_1", output="ok"), "fc1", "p1")
    found = check_quiet(h.store, h.log)
    assert Invariant.NO_LOST_ITEM in invariants(found)
    lost = [v for v in found if v.invariant is Invariant.NO_LOST_ITEM]
    assert [v.item_id for v in lost] == ["fc1"]
    assert Invariant.NO_DANGLING_ANCHOR in invariants(found)
    assert Invariant.CONVERGENCE in invariants(found)


def test_delete_while_in_flight_is_a_lost_item() -> None:
    h = Harness()
    h.seed(user("u0"))
    h.store.add_output_item(assistant("a1"), "resp_1")  # still streaming
    h.push("p1", h.store.items(), [user("u0")])
    h.delete("a1", DeleteReason.PUSH, "p1")
    assert invariants(check_no_lost_item(h.store, h.log)) == {Invariant.NO_LOST_ITEM}


def test_delete_while_tool_runs_is_a_lost_item() -> None:
    h, _, _ = r1_setup()
    h.log.tool(ToolReport("call_1", "started", h.store.transitions))
    base = h.store.items()
    h.push("p1", base, [i for i in base if i.id != "fc1"])
    h.delete("fc1", DeleteReason.PUSH, "p1")
    found = check_no_lost_item(h.store, h.log)
    assert [v.detail for v in found] == ["deleted while its tool was running"]


def test_delete_of_untranscribed_user_audio_is_a_lost_item() -> None:
    h = Harness()
    h.seed(user("u0"))
    h.store.add_user_audio("u5")
    base = h.store.items()
    h.push("p1", base, [user("u0")])
    h.delete("u5", DeleteReason.PUSH, "p1")
    assert invariants(check_no_lost_item(h.store, h.log)) == {Invariant.NO_LOST_ITEM}


def test_unrecorded_and_unjustified_deletes() -> None:
    h = Harness()
    h.seed(user("u0"), assistant("a0"), user("u1"), assistant("a1"))
    h.store.delete("u0", event_id="mystery")  # no decision recorded
    h.push("p1", [user("u1")], [user("u1")])
    h.delete("u1", DeleteReason.PUSH, "p1")  # the push kept it
    h.delete("a0", DeleteReason.INTERRUPTION, played_ms=300)  # it was heard
    h.delete("a1", DeleteReason.REWRITE, "p1")  # never in that base
    details = {v.item_id: v.detail for v in check_no_lost_item(h.store, h.log)}
    assert set(details) == {"u0", "u1", "a0", "a1"}
    assert "no recorded decision" in details["u0"]
    assert "kept it" in details["u1"]
    assert "played" in details["a0"]


def test_allowed_sources_pass() -> None:
    h = Harness()
    fc = FunctionCall(id="fc1", call_id="c1", name="f")
    out = FunctionCallOutput(id="o1", call_id="c1", output="x")
    h.seed(user("u0"), fc, out, assistant("a0"), user("u1"))
    base = h.store.items()
    edited = user("u1", "rewritten")
    h.push("p1", base, [assistant("a0"), edited])
    h.delete("u0", DeleteReason.PUSH, "p1")
    h.delete("fc1", DeleteReason.PUSH, "p1")
    h.delete("o1", DeleteReason.PAIR_CASCADE, "p1", partner_of="fc1")
    h.delete("u1", DeleteReason.REWRITE, "p1")
    h.create(Message(id="u1b", role="user", content="rewritten"), "a0", "p1")
    h.store.add_output_item(assistant("a2", "spoken"), "resp_9")
    h.store.finish_response("resp_9")
    h.delete("a2", DeleteReason.INTERRUPTION, played_ms=0)
    h.store.add_output_item(FunctionCall(id="fc9", call_id="c9", name="g"), "resp_10")
    h.store.finish_response("resp_10")
    h.delete("fc9", DeleteReason.ABANDON)
    assert check_no_lost_item(h.store, h.log) == []
    assert check_convergence(h.store, h.log) == []


def test_bad_pair_cascade_is_caught() -> None:
    h = Harness()
    h.seed(user("u0"), FunctionCall(id="fc1", call_id="c1", name="f"))
    h.push("p1", h.store.items(), [FunctionCall(id="fc1", call_id="c1", name="f")])
    h.delete("fc1", DeleteReason.PAIR_CASCADE, "p1", partner_of="u0")
    found = check_no_lost_item(h.store, h.log)
    assert len(found) == 1 and "not this item's call or output" in found[0].detail


def test_dangling_anchor() -> None:
    h = Harness()
    h.seed(user("u0"), assistant("a3"))
    h.delete("a3", DeleteReason.INTERRUPTION, played_ms=0)
    h.create(user("x"), "a3")  # R5: create anchored on a deleted item
    found = check_anchors(h.store)
    assert invariants(found) == {Invariant.NO_DANGLING_ANCHOR} and found[0].item_id == "x"
    assert check_anchors(h.store, since=len(h.store.creates)) == []


def test_output_without_its_call_before_it() -> None:
    h = Harness()
    fc = FunctionCall(id="fc1", call_id="c1", name="f")
    h.seed(user("u0"), fc)
    h.create(FunctionCallOutput(id="o1", call_id="c1", output="x"), "root")
    assert [v.invariant for v in check_pairs(h.store)] == [Invariant.PAIRS]
    h2 = Harness()
    h2.seed(fc, FunctionCallOutput(id="o1", call_id="c1", output="x"))
    h2.store.delete("fc1", event_id="e")  # the server does not cascade
    assert [v.item_id for v in check_pairs(h2.store)] == ["o1"]


def test_convergence_missing_and_resurrected() -> None:
    """R4: two writers from one base; the second re-creates what the first removed."""
    h = Harness()
    u0, a0, u1, a1 = user("u0"), assistant("a0"), user("u1"), assistant("a1")
    h.seed(u0, a0, u1, a1)
    base = h.store.items()
    h.push("trunc", base, [u1, a1])
    h.delete("u0", DeleteReason.PUSH, "trunc")
    h.delete("a0", DeleteReason.PUSH, "trunc")
    summary = Message(id="s", role="system", content="summary")
    h.push("summ", base, [u0, a0, summary])
    h.delete("u1", DeleteReason.PUSH, "summ")
    h.delete("a1", DeleteReason.PUSH, "summ")
    h.create(summary, None, "summ")
    assert check_convergence(h.store, h.log, h.store.items()) == []
    # The naive second push re-creates u0 (resurrection of a removed item).
    h.create(u0, "root", "summ")
    found = check_convergence(h.store, h.log)
    assert [(v.invariant, v.item_id) for v in found] == [(Invariant.CONVERGENCE, "u0")]


def test_convergence_mirror_differs() -> None:
    h = Harness()
    h.seed(user("u0"), assistant("a0"))
    found = check_convergence(h.store, h.log, [assistant("a0"), user("u0")])
    assert [v.detail for v in found] == ["mirror order differs from server"]
    found = check_convergence(h.store, h.log, [user("u0", "stale"), assistant("a0")])
    assert [v.item_id for v in found] == ["u0"]
    found = check_convergence(h.store, h.log, [user("u0")])
    assert [v.detail for v in found] == ["on the server, not in the mirror"]
    h.store.add_output_item(assistant("a1"), "r")
    h.store.delete("a1", event_id="x")
    found = check_convergence(h.store, h.log)
    assert [(v.item_id, v.detail) for v in found] == [("a1", "missing from the server")]


def test_resolutions() -> None:
    log = CheckLog()
    for n in range(6):
        log.op(OpRecord(f"e{n}", "create", 0, sent_at=1.0))
    log.resolve(Resolution("e0", "success", at=1.1))
    log.resolve(Resolution("e1", "unknown", at=6.0))
    log.resolve(Resolution("e1", "success", at=6.5))  # settled later: fine
    log.resolve(Resolution("e2", "success", at=1.2))
    log.resolve(Resolution("e2", "error", at=1.3))  # twice
    log.resolve(Resolution("e3", "unknown", at=6.0))  # never settled
    # e4 never resolved
    log.resolve(Resolution("e5", "failure", at=30.0))  # too late for a 10 s bound
    log.resolve(Resolution("ghost", "success"))
    found = check_resolutions(log, max_seconds=10.0)
    assert invariants(found) == {Invariant.RESOLVES_ONCE}
    text = " ".join(v.detail for v in found)
    for expected in (
        "'e2' resolved 2 times",
        "'e3' unsettled",
        "'e4' never resolved",
        "'e5' resolved after",
        "'ghost' resolved but never sent",
    ):
        assert expected in text
    assert "'e0'" not in text and "'e1'" not in text


def test_idempotence() -> None:
    h = Harness()
    h.seed(user("u0"))
    current = h.store.items()
    h.push("again", current, current)
    assert check_idempotence(h.log) == []
    h.create(user("u0"), None, "again")  # sends a duplicate though nothing changed
    assert invariants(check_idempotence(h.log)) == {Invariant.IDEMPOTENCE}


def test_restore_normalization() -> None:
    spoken = Message(id="a5", role="assistant", content="0123456789", audio=True, audio_ms=1000)
    entries = [
        DropEntry(user("u0")),
        DropEntry(Message(id="u1", role="user", content="heard", audio=True)),
        DropEntry(Message(id="u2", role="user", content=None, audio=True)),
        DropEntry(spoken, audio_end_ms=300, audio_total_ms=1000),
        DropEntry(FunctionCall(id="fc1", call_id="c1", name="f")),
        DropEntry(FunctionCallOutput(id="o1", call_id="c1", output="r")),
        DropEntry(FunctionCall(id="fc2", call_id="c2", name="f")),  # complete, no output
        DropEntry(FunctionCall(id="fc3", call_id="c3", name="f", arguments='{"ci'), partial=True),
        DropEntry(FunctionCallOutput(id="o3", call_id="c3", output="r")),
        DropEntry(assistant("a9", "half a sent"), partial=True),
    ]
    kept, lost = normalize_for_restore(entries)
    assert [i.id for i in kept] == ["u0", "u1", "a5", "fc1", "o1", "fc2"]
    assert kept[1] == Message(id="u1", role="user", content="heard")
    assert kept[2] == Message(id="a5", role="assistant", content="012", interrupted=True)
    assert lost == ["u2"]


def test_restore_check() -> None:
    entries = [
        DropEntry(user("u0")),
        DropEntry(Message(id="u2", role="user", content=None, audio=True)),
    ]
    pending = PendingRestore(tuple(entries))
    h = Harness()
    h.seed(user("u0"))  # a create of no push: what a restore sends
    assert judge_restore(h.store, h.log, pending, ["u2"]) == []
    found = judge_restore(h.store, h.log, pending, [])
    assert invariants(found) == {Invariant.LOSSLESS_RECONNECT}
    empty = Harness()
    found = judge_restore(empty.store, empty.log, pending, ["u2"])
    assert [(v.invariant, v.item_id) for v in found] == [(Invariant.LOSSLESS_RECONNECT, "u0")]
