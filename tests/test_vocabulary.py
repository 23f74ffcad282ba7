"""One event vocabulary and one error root: each name the application sees is defined once.

Before phase 2 the engine's effects were renamed one to one on their way to the
application (``FunctionCallReady`` -> ``CallReady``, ``ContextSynced`` -> ``PushDone``,
``CallOrphaned`` and ``Notice`` defined twice) and there were two unrelated
``LocalProtocolError`` classes. These checks keep every such name a single class, old
spellings as aliases of it, and every error under :class:`accord.errors.AccordError`.
"""

from __future__ import annotations

import inspect

import accord
import accord.client.errors as client_errors
import accord.client.events as app
import accord.engine.events as engine_events
import accord.protocol.errors as protocol_errors
from accord import errors, protocol

SHARED_EVENTS = [
    "FunctionCallReady",
    "ContextSynced",
    "CallOrphaned",
    "Notice",
    "Reconnected",
    "Resumed",
    "OutputFailed",
]


def test_engine_effects_are_the_applications_events() -> None:
    for name in SHARED_EVENTS:
        assert getattr(app, name) is getattr(engine_events, name), name


def test_the_engines_old_names_are_aliases() -> None:
    assert engine_events.CallReady is app.FunctionCallReady
    assert engine_events.PushDone is app.ContextSynced


def test_protocol_errors_are_defined_once() -> None:
    for name in ["LocalProtocolError", "RemoteProtocolError"]:
        assert getattr(protocol, name) is getattr(errors, name), name
        assert getattr(protocol_errors, name) is getattr(errors, name), name


def test_every_error_has_one_root() -> None:
    modules = [errors, protocol_errors, client_errors]
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Exception):
                assert issubclass(value, errors.AccordError), f"{module.__name__}.{name}"
    for name in accord.__all__:
        value = getattr(accord, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, errors.AccordError), name
