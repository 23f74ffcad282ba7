"""LiveKit Agents' ``compute_chat_ctx_diff`` on the same edit cases, for comparison.

``livekit-agents`` is an optional extra (``pip install "accord[compare]"``): it is
imported only here, only when the comparison runs, so accord works without it.
:func:`load` returns None when it is missing, and the benchmark says the comparison was
skipped.

LiveKit 1.8.9 has a fast path too: when neither list repeats an id (always the case
here) its longest common subsequence is an O(n log n) longest increasing subsequence;
otherwise an O(n*m) table. Unlike accord's, it always runs that step, even when the
survivors are already in order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from accord.diff import ContextDiff
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Message

INSTALL_HINT = 'pip install "accord[compare]"'
SKIPPED = f"LiveKit comparison skipped: livekit-agents is not installed ({INSTALL_HINT})"

PATH_UNIQUE_LIS = "LIS"  # no id repeats: its O(n log n) path
PATH_TABLE = "O(nm)"  # ids repeat: its dynamic-programming table


@dataclass(frozen=True)
class LiveKitDiff:
    """The pieces of livekit-agents the comparison uses, imported lazily."""

    version: str
    chat_context: Callable[..., Any]
    chat_message: Callable[..., Any]
    function_call: Callable[..., Any]
    function_call_output: Callable[..., Any]
    diff: Callable[[Any, Any], Any]

    def convert(self, ctx: ChatContext) -> Any:
        """The same items as a LiveKit ``ChatContext`` (ids, roles, text, calls)."""
        items: list[Any] = []
        for item in ctx:
            if isinstance(item, Message):
                items.append(self.chat_message(id=item.id, role=item.role, content=[item.text]))
            elif isinstance(item, FunctionCall):
                items.append(
                    self.function_call(
                        id=item.id, call_id=item.call_id, name=item.name, arguments=item.arguments
                    )
                )
            elif isinstance(item, FunctionCallOutput):
                items.append(
                    self.function_call_output(
                        id=item.id,
                        call_id=item.call_id,
                        output=item.output,
                        is_error=False,
                        name="",
                    )
                )
        return self.chat_context(items)


def load() -> LiveKitDiff | None:
    """livekit-agents' diff and context types, or None when it is not installed."""
    try:
        llm = importlib.import_module("livekit.agents.llm")
        utils = importlib.import_module("livekit.agents.llm.utils")
        agents = importlib.import_module("livekit.agents")
    except ImportError:
        return None
    return LiveKitDiff(
        version=str(getattr(agents, "__version__", "?")),
        chat_context=llm.ChatContext,
        chat_message=llm.ChatMessage,
        function_call=llm.FunctionCall,
        function_call_output=llm.FunctionCallOutput,
        diff=utils.compute_chat_ctx_diff,
    )


def livekit_path(old_ids: Sequence[str], new_ids: Sequence[str]) -> str:
    """The path LiveKit 1.8.9 takes: its O(n log n) LIS when no id repeats on either
    side (the condition of its ``_compute_unique_ids_lcs``), its table otherwise."""
    unique = len(set(old_ids)) == len(old_ids) and len(set(new_ids)) == len(new_ids)
    return PATH_UNIQUE_LIS if unique else PATH_TABLE


SAME = "same"
SAME_SIZE = "same size"
DIFFERENT = "different"


def agreement(ours: ContextDiff, theirs: Any) -> str:
    """``same`` (:func:`same_diff`), ``same size`` (as many removes and creates: equally
    minimal; with moves, several longest subsequences can tie and each implementation
    may keep a different one) or ``different``."""
    if same_diff(ours, theirs):
        return SAME
    if len(ours.to_remove) == len(theirs.to_remove) and len(ours.to_create) == len(
        theirs.to_create
    ):
        return SAME_SIZE
    return DIFFERENT


def same_diff(ours: ContextDiff, theirs: Any) -> bool:
    """Equivalent diffs: the same removed set and the same creates (id and anchor, in
    order). Rewrites are compared by id: LiveKit checks message text only."""
    return (
        set(ours.to_remove) == set(theirs.to_remove)
        and list(ours.to_create) == list(theirs.to_create)
        and [i for _, i in ours.to_update] == [i for _, i in theirs.to_update]
    )
