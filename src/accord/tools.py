"""``@function_tool``: a Python function as a Realtime tool, with its failures contained.

The JSON schema comes from the type hints (pydantic) and the description from the
docstring (its first paragraph; ``Args:`` lines describe the parameters). Invoking a
tool never raises: bad JSON, invalid arguments, an exception, a timeout or an oversized
result all become an output that explains the problem to the model, so the
conversation goes on. Sync functions run in a thread, async ones on the loop; a
cancelled invocation (an interruption) is cancelled for real.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from accord.tool_threads import run_in_daemon_thread

log = logging.getLogger("accord.tools")

DEFAULT_TIMEOUT = 30.0  # seconds a tool may run
DEFAULT_MAX_OUTPUT = 16_000  # characters of output sent back to the model


@dataclass(frozen=True, slots=True)
class ToolResult:
    output: str
    ok: bool
    error: str | None = None  # "bad_json", "invalid_arguments", "raised", "timeout", ...
    truncated: bool = False


def _describe(doc: str | None) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph, and ``name: text`` lines under ``Args:``."""
    if not doc:
        return "", {}
    text = inspect.cleandoc(doc)
    summary = text.split("\n\n", 1)[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    match = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", text, re.M)
    if match:
        lines = match.group(1).splitlines()
        indent = len(lines[0]) - len(lines[0].lstrip())
        last: str | None = None
        for line in lines:
            # Fix: a line indented deeper than the parameter lines continues the previous
            # description (it used to be dropped, cutting descriptions at the first line).
            if last is not None and len(line) - len(line.lstrip()) > indent:
                params[last] = f"{params[last]} {line.strip()}"
                continue
            found = re.match(r"\s*(\w+)(?:\s*\(.*?\))?\s*:\s*(.+)", line)
            last = found.group(1) if found else None
            if found:
                params[found.group(1)] = found.group(2).strip()
    return summary, params


class FunctionTool:
    """A callable the model may call by ``name``."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_output_chars: int = DEFAULT_MAX_OUTPUT,
        idempotent: bool = False,
    ) -> None:
        self.func = func
        # Running it twice does no harm: a journaled session resumed after a crash runs
        # it again when it was running, instead of answering its call as interrupted.
        self.idempotent = idempotent
        self.name = name or func.__name__
        summary, param_docs = _describe(func.__doc__)
        self.description = description or summary
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self.is_async = inspect.iscoroutinefunction(func)
        self.model = self._arguments_model(param_docs)

    def _arguments_model(self, docs: dict[str, str]) -> type[BaseModel]:
        hints = get_type_hints(self.func)
        fields: dict[str, Any] = {}
        for param in inspect.signature(self.func).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {self.name}: *args/**kwargs cannot be described")
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (annotation, Field(default, description=docs.get(param.name)))
        return create_model(f"{self.name}_arguments", **fields)

    @property
    def schema(self) -> dict[str, Any]:
        """The tool as ``session.update`` takes it."""
        params = self.model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": params,
        }

    async def invoke(self, arguments: str) -> ToolResult:
        """Run the tool on the model's JSON arguments; never raises (but can be
        cancelled)."""
        try:
            raw = json.loads(arguments or "{}")
        except (ValueError, RecursionError) as exc:  # Fix: deep nesting raised RecursionError
            return self._failed("bad_json", f"the arguments are not valid JSON ({exc})")
        if not isinstance(raw, dict):
            return self._failed("bad_json", "the arguments must be a JSON object")
        try:
            args = self.model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            return self._failed("invalid_arguments", f"invalid arguments: {problems}")
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                value = await self._call(kwargs)
        except TimeoutError as exc:
            # Fix: only our deadline is a timeout; a TimeoutError the tool raised itself (a
            # network call that timed out) was reported as "did not finish within 30 s".
            if deadline.expired():
                if not self.is_async:
                    log.warning(
                        "tool %s did not finish within %g s: its call is answered with a "
                        "timeout error; a synchronous tool cannot be stopped, so its thread "
                        "runs on until the function returns (the result is discarded, and "
                        "the thread does not keep the process from exiting)",
                        self.name,
                        self.timeout,
                    )
                return self._failed("timeout", f"the tool did not finish within {self.timeout:g} s")
            return self._failed("raised", f"the tool failed: {type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._failed("raised", f"the tool failed: {type(exc).__name__}: {exc}")
        return self._output(value)

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.func(**kwargs)
        # A daemon thread, not asyncio's executor (whose threads asyncio.run joins): a
        # synchronous tool past its timeout cannot be stopped, but must not keep the
        # process from exiting (see accord.tool_threads).
        call = functools.partial(contextvars.copy_context().run, self.func, **kwargs)
        return await run_in_daemon_thread(call, self.name)

    def _output(self, value: Any) -> ToolResult:
        if isinstance(value, str):
            text = value
        elif isinstance(value, BaseModel):
            text = value.model_dump_json()
        else:
            try:
                # Fix: models, dataclasses and sets nested in a dict or list became their
                # str() (``"street='a'"``); pydantic makes them JSON, str() the rest.
                text = json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)
            except (TypeError, ValueError):
                text = str(value)
        if len(text) > self.max_output_chars:
            cut = text[: self.max_output_chars]
            note = f"... [output truncated: {len(text)} characters, limit {self.max_output_chars}]"
            return ToolResult(cut + note, True, None, truncated=True)
        return ToolResult(text, True)

    def _failed(self, kind: str, message: str) -> ToolResult:
        return ToolResult(json.dumps({"error": kind, "message": message}), False, kind)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


def unknown_tool(name: str, known: list[str]) -> ToolResult:
    """The output for a call of a tool the agent does not have."""
    message = f"there is no tool named {name!r}; available: {', '.join(known) or 'none'}"
    return ToolResult(
        json.dumps({"error": "unknown_tool", "message": message}), False, "unknown_tool"
    )


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...
@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = ...,
    max_output_chars: int = ...,
    idempotent: bool = ...,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...
def function_tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_output_chars: int = DEFAULT_MAX_OUTPUT,
    idempotent: bool = False,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make ``func`` a tool: ``@function_tool`` or ``@function_tool(timeout=5)``.

    ``timeout`` bounds how long the model's call waits for the result; past it the call
    is answered with a timeout error. An async tool is cancelled then; a synchronous one
    cannot be stopped: it runs on in a daemon thread of its own until it returns (its
    result discarded, a WARNING naming it), and never keeps the process from exiting.

    ``idempotent=True``: running the tool twice for one call does no harm (a lookup, a
    read). A journaled session resumed after a crash (docs/journal.md) then runs it
    again if it was running; otherwise its call is answered with an output saying it
    was interrupted, since it may or may not have taken effect.
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            max_output_chars=max_output_chars,
            idempotent=idempotent,
        )

    return wrap(func) if func is not None else wrap
