"""Every public name of ``accord`` says what it is for.

The names in ``accord.__all__`` are what an application imports; their docstrings are
the reference a reader has (``help()``, an editor's hover). So each exported name, and
each public method and property of each exported class, has a docstring of its own.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import sys
from collections.abc import Iterator

import accord


def public_members(cls: type) -> Iterator[tuple[str, object]]:
    """The public methods and properties ``cls`` (or an accord base class) defines."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("accord"):
            continue
        for name, found in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            member = found.__func__ if isinstance(found, staticmethod | classmethod) else found
            if isinstance(member, property) or inspect.isfunction(member):
                seen.add(name)
                yield name, member


def alias_documented(name: str) -> bool:
    """A type alias cannot hold a docstring: the string literal right after its
    assignment in the defining module is its documentation (as documentation tools
    read it)."""
    for module in [m for m in list(sys.modules.values()) if m and m.__name__.startswith("accord")]:
        if getattr(module, name, None) is not getattr(accord, name) or module is accord:
            continue
        body = ast.parse(inspect.getsource(module)).body
        for statement, after in itertools.pairwise(body):
            target = getattr(statement, "target", None) or next(
                iter(getattr(statement, "targets", [])), None
            )
            if isinstance(target, ast.Name) and target.id == name:
                return (
                    isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                    and bool(after.value.value.strip())
                )
    return False


def has_own_docstring(obj: object) -> bool:
    """A docstring written for ``obj``: not one inherited, not the signature a
    dataclass fills in when there is none."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        return False
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str) or not doc.strip():
        return False
    return not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


def undocumented() -> list[str]:
    missing: list[str] = []
    for name in accord.__all__:
        obj = getattr(accord, name)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            if not has_own_docstring(obj):
                missing.append(name)
        elif not alias_documented(name):
            missing.append(name)
        if inspect.isclass(obj):
            for member_name, member in public_members(obj):
                if not (member.__doc__ or "").strip():
                    missing.append(f"{name}.{member_name}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    assert undocumented() == []


def test_the_check_tells_a_docstring_from_none() -> None:
    @dataclasses.dataclass
    class Bare:
        x: int

    assert not has_own_docstring(Bare)  # only the signature the dataclass filled in
    assert has_own_docstring(accord.Message) and has_own_docstring(accord.compute_diff)
    assert alias_documented("Item") and not alias_documented("RealtimeSession")


def test_the_check_sees_methods_and_properties() -> None:
    members = dict(public_members(accord.RealtimeSession))
    assert {"connect", "chat_ctx", "update_chat_ctx", "aclose"} <= set(members)
    assert isinstance(members["chat_ctx"], property)
