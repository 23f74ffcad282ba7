"""``session.update`` is an operation of the ledger (engine/configure.py), like the others.

It used to be a FIFO of event ids in the session core, outside the ledger: each of its
hangs is recorded by a "Fix:" comment (a refused update took the next one's
acknowledgement; an update sent during a drop shifted the FIFO; the core's own update
was no engine op, so nothing resolved it). These drive the engine alone.
"""

from __future__ import annotations

from accord.engine import events as ev
from accord.engine.config import EngineConfig
from accord.engine.engine import SyncEngine
from accord.protocol.error_codes import SERVER_ERROR


def _engine() -> SyncEngine:
    return SyncEngine(EngineConfig(server_vad=True, op_timeout=5.0), seed=1)


def _sent_updates(effects: list[ev.Effect]) -> list[ev.UpdateSession]:
    return [e.op for e in effects if isinstance(e, ev.Send) and isinstance(e.op, ev.UpdateSession)]


def _resolved(effects: list[ev.Effect]) -> list[tuple[str, str]]:
    return [(e.event_id, e.status) for e in effects if isinstance(e, ev.OpResolved)]


def test_an_update_is_sent_with_its_fields_and_open_until_answered() -> None:
    eng = _engine()
    event_id, effects = eng.update_session({"instructions": "be brief"}, 0.0)
    assert [(u.event_id, u.fields) for u in _sent_updates(effects)] == [
        (event_id, {"instructions": "be brief"})
    ]
    assert not eng.is_quiet()  # a switch point waits for it
    assert _resolved(eng.receive(ev.SessionUpdated(), 0.1)) == [(event_id, "success")]
    assert eng.is_quiet()


def test_acknowledgements_answer_updates_in_the_order_they_were_sent() -> None:
    eng = _engine()
    first, _ = eng.update_session({"instructions": "a"}, 0.0)
    second, _ = eng.update_session({"instructions": "b"}, 0.0)
    assert _resolved(eng.receive(ev.SessionUpdated(), 0.1)) == [(first, "success")]
    assert _resolved(eng.receive(ev.SessionUpdated(), 0.2)) == [(second, "success")]


def test_a_refused_update_does_not_take_the_next_ones_acknowledgement() -> None:
    eng = _engine()
    refused, _ = eng.update_session({"no_such_field": True}, 0.0)
    accepted, _ = eng.update_session({"instructions": "b"}, 0.0)
    answer = eng.receive(ev.ServerError("unknown_parameter", "Unknown parameter", refused), 0.1)
    assert _resolved(answer) == [(refused, "error")]
    assert _resolved(eng.receive(ev.SessionUpdated(), 0.2)) == [(accepted, "success")]


def test_a_transient_refusal_sends_the_update_again() -> None:
    eng = _engine()
    event_id, _ = eng.update_session({"instructions": "a"}, 0.0)
    again = eng.receive(ev.ServerError(SERVER_ERROR, "retry", event_id), 0.1)
    assert _resolved(again) == []
    assert [u.event_id for u in _sent_updates(again)] == [event_id]
    assert _resolved(eng.receive(ev.SessionUpdated(), 0.2)) == [(event_id, "success")]


def test_a_late_answer_to_an_update_that_timed_out_is_its_own() -> None:
    eng = _engine()
    slow, _ = eng.update_session({"instructions": "a"}, 0.0)
    assert (slow, "unknown") in _resolved(eng.tick(6.0))
    later, _ = eng.update_session({"instructions": "b"}, 6.0)
    assert _resolved(eng.receive(ev.SessionUpdated(), 6.1)) == [(slow, "success")]
    assert _resolved(eng.receive(ev.SessionUpdated(), 6.2)) == [(later, "success")]


def test_updates_across_a_drop_are_answered_by_the_next_configuration() -> None:
    """One sent before the drop and one made during it: neither fails, neither is sent
    on its own; the next connection's configuration carries both and answers both."""
    eng = _engine()
    in_flight, _ = eng.update_session({"instructions": "a"}, 0.0)
    assert _resolved(eng.connection_lost(0.1)) == []
    during, effects = eng.update_session({"tools": []}, 0.2)
    assert _sent_updates(effects) == []
    config, effects = eng.update_session(
        {"instructions": "a", "tools": []}, 0.3, configuration=True
    )
    assert _sent_updates(effects) == []  # not connected yet
    effects = eng.connected_again(0.4)
    sent = _sent_updates(effects)
    assert [u.event_id for u in sent][:1] == [config]  # first: before the restore's VAD off
    assert sent[1:] and all(u.fields is None for u in sent[1:])  # the engine's VAD toggles
    answered = _resolved(eng.receive(ev.SessionUpdated(), 0.5))
    assert sorted(answered) == sorted(
        [(config, "success"), (in_flight, "success"), (during, "success")]
    )


def test_a_refused_configuration_refuses_the_updates_it_carried() -> None:
    eng = _engine()
    carried, _ = eng.update_session({"no_such_field": True}, 0.0)
    eng.connection_lost(0.1)
    config, _ = eng.update_session({"no_such_field": True}, 0.2, configuration=True)
    eng.connected_again(0.3)
    refusal = ev.ServerError("unknown_parameter", "Unknown parameter", config)
    assert sorted(_resolved(eng.receive(refusal, 0.4))) == sorted(
        [(config, "error"), (carried, "error")]
    )


def test_the_restore_does_not_answer_a_carried_update() -> None:
    """The restore resolves what waited for it; an update waits for the configuration."""
    eng = _engine()
    carried, _ = eng.update_session({"instructions": "a"}, 0.0)
    eng.connection_lost(0.1)
    effects = eng.connected_again(0.2)  # no configuration sent (a strategy test's shell)
    for update in _sent_updates(effects):
        effects += eng.receive(ev.SessionUpdated(update.event_id), 0.3)
    assert (carried, "success") not in _resolved(effects)
    assert any(op.event_id == carried for op in eng.ledger.open_ops())
