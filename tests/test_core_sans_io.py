"""The session core says what happened; the asyncio shell (accord.session) owns every waiter.

h11's split: :class:`accord.client.core.SessionCore` and its handlers
(:mod:`accord.client.inbound`) take frames and calls and return frames, events and
effects. A future kept in the core was resolved in three places and hung callers when
one of them missed (the core's own "Fix:" comments record those hangs); these checks keep
asyncio out of the core's modules so the waiters cannot move back in.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
from pathlib import Path

import accord.client.core as core_module
import accord.client.inbound as inbound_module
from accord.client import streaming as st
from accord.client.core import SessionCore

CORE_MODULES = [core_module, inbound_module]


def _imported(module: object) -> set[str]:
    path = Path(str(getattr(module, "__file__", "")))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_import_no_asyncio() -> None:
    for module in CORE_MODULES:
        assert "asyncio" not in _imported(module), module.__name__


def test_core_keeps_no_waiters() -> None:
    core = SessionCore(seed=0)
    core.generate_reply(0.0)
    core.update_session({"instructions": "be brief"}, 0.0)
    waiters = [name for name in vars(core) if "waiter" in name]
    assert waiters == []


def _accord_imports(module_name: str, seen: set[str]) -> None:
    """The accord modules ``module_name`` imports, transitively (read from the source)."""
    if module_name in seen:
        return
    seen.add(module_name)
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in _run_time_nodes(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("accord"):
            _accord_imports(node.module, seen)
            package = importlib.util.find_spec(node.module)
            if package is not None and package.submodule_search_locations is not None:
                for alias in node.names:  # ``from accord.client import streaming``
                    if importlib.util.find_spec(f"{node.module}.{alias.name}") is not None:
                        _accord_imports(f"{node.module}.{alias.name}", seen)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("accord"):
                    _accord_imports(alias.name, seen)


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imported for the type checker only)."""
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            checking = isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING"
            if not checking:
                stack.append(child)
    return nodes


def test_nothing_the_core_imports_uses_asyncio() -> None:
    """Not even through a helper: the generation streams are the shell's
    (accord.client.generation), and the core reaches them by no import at all."""
    seen: set[str] = set()
    _accord_imports("accord.client.core", seen)
    assert "accord.client.generation" not in seen
    users = [name for name in sorted(seen) if "asyncio" in _imported(importlib.import_module(name))]
    assert users == []


def _frames_of_a_response() -> list[str]:
    def frame(kind: str, **fields: object) -> str:
        return json.dumps({"type": kind, "event_id": f"evt_{kind}", **fields})

    message = {"id": "item_a", "type": "message", "role": "assistant", "content": []}
    call = {
        "id": "item_f",
        "type": "function_call",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": "{}",
    }
    response = {"id": "resp_1", "object": "realtime.response", "status": "in_progress"}
    return [
        frame("response.created", response=response),
        frame("response.output_item.added", response_id="resp_1", output_index=0, item=message),
        frame(
            "response.output_text.delta",
            response_id="resp_1",
            item_id="item_a",
            output_index=0,
            content_index=0,
            delta="hello",
        ),
        frame(
            "response.output_item.done",
            response_id="resp_1",
            output_index=0,
            item={**message, "status": "completed"},
        ),
        frame("response.output_item.added", response_id="resp_1", output_index=1, item=call),
        frame(
            "response.function_call_arguments.done",
            response_id="resp_1",
            item_id="item_f",
            output_index=1,
            call_id="call_1",
            name="lookup",
            arguments="{}",
        ),
        frame(
            "response.done",
            response={**response, "status": "completed", "usage": {"input_tokens": 3}},
        ),
    ]


def _asyncio_objects(root: object) -> list[str]:
    """Every asyncio object reachable from ``root``'s attributes (dicts, lists, objects)."""
    found: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[str, object]] = [("core", root)]
    while stack:
        path, value = stack.pop()
        if id(value) in seen or isinstance(value, str | bytes | int | float | bool | None):
            continue
        seen.add(id(value))
        if type(value).__module__.startswith("asyncio"):
            found.append(f"{path}: {type(value).__name__}")
            continue
        if isinstance(value, dict):
            stack.extend((f"{path}[{k!r}]", v) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend((f"{path}[]", v) for v in value)
        elif type(value).__module__.startswith("accord."):
            fields = getattr(value, "__dict__", {})
            slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
            stack.extend((f"{path}.{k}", v) for k, v in fields.items())
            stack.extend((f"{path}.{s}", getattr(value, s)) for s in slots if hasattr(value, s))
    return found


def test_a_response_through_the_core_holds_no_asyncio_object_and_says_what_came() -> None:
    """Without an event loop: the core keeps plain records of the open response and
    tells the shell each piece of content, in order, as a stream record."""
    records: list[st.StreamEvent] = []
    core = SessionCore(seed=0, on_stream=records.append)
    frames = _frames_of_a_response()
    for frame in frames[:3]:
        core.receive_frame(frame, 0.0)
    assert _asyncio_objects(core) == []
    for frame in frames[3:]:
        core.receive_frame(frame, 0.0)
    assert [type(r) for r in records] == [
        st.ResponseBegan,
        st.OutputBegan,
        st.TextDelta,
        st.OutputEnded,
        st.OutputBegan,
        st.CallArguments,
        st.ResponseEnded,
    ]
    assert records[-1] == st.ResponseEnded("resp_1", "completed", {"input_tokens": 3})
    assert core.responses == {}


def test_a_drop_in_the_middle_of_a_response_ends_it_as_failed() -> None:
    records: list[st.StreamEvent] = []
    core = SessionCore(seed=0, on_stream=records.append)
    for frame in _frames_of_a_response()[:3]:
        core.receive_frame(frame, 0.0)
    core.connection_lost(1.0)
    assert records[-1] == st.ResponseEnded("resp_1", "failed")
    assert core.responses == {}
