"""Conversation items and the ordered :class:`ChatContext` that holds them.

Items are small frozen values: an edit makes a new item under the same id, so a context
can be copied cheaply and compared item by item. A :class:`ChatContext` remembers its
*base*, the engine version it was derived from; copies, slices and filters keep it, so
``session.update_chat_ctx(edited_copy)`` tells the engine what the writer had seen
(docs/architecture.md, "The principle"). A context built from scratch has no base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any, Literal, TypeAlias, overload

Role: TypeAlias = Literal["system", "user", "assistant"]
_ROLES: frozenset[str] = frozenset(("system", "user", "assistant"))


def _check_id(kind: str, value: object, field: str = "id") -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind}.{field} must be a non-empty string, got {value!r}")


@dataclass(frozen=True, slots=True)
class Message:
    """A system, user or assistant message, typed or spoken.

    ``content`` is the text, or for audio the transcript; ``None`` means spoken audio
    whose transcript has not arrived yet. ``audio_ms`` is the audio's length when known;
    ``interrupted`` marks an assistant turn truncated by a barge-in (the text then holds
    only what was heard).
    """

    id: str
    role: Role
    content: str | None = ""
    audio: bool = False
    audio_ms: int | None = None
    interrupted: bool = False

    def __post_init__(self) -> None:
        _check_id("Message", self.id)
        if self.role not in _ROLES:
            raise ValueError(f"Message.role must be one of {sorted(_ROLES)}, got {self.role!r}")
        if self.content is None and not self.audio:
            raise ValueError("Message.content may be None only for audio awaiting a transcript")
        if self.audio and self.role == "system":
            raise ValueError("a system message cannot carry audio")
        if self.audio_ms is not None and self.audio_ms < 0:
            raise ValueError(f"Message.audio_ms must be >= 0, got {self.audio_ms}")

    @property
    def text(self) -> str:
        """The text or transcript, empty when none is known yet."""
        return self.content or ""


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A function call the model made: ``call_id`` pairs it with its output."""

    id: str
    call_id: str
    name: str
    arguments: str = "{}"

    def __post_init__(self) -> None:
        _check_id("FunctionCall", self.id)
        _check_id("FunctionCall", self.call_id, "call_id")
        _check_id("FunctionCall", self.name, "name")


@dataclass(frozen=True, slots=True)
class FunctionCallOutput:
    """The result of a function call, sent back to the model under the call's ``call_id``."""

    id: str
    call_id: str
    output: str

    def __post_init__(self) -> None:
        _check_id("FunctionCallOutput", self.id)
        _check_id("FunctionCallOutput", self.call_id, "call_id")


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool an MCP server listed: ``input_schema`` is its JSON Schema as JSON text,
    so the item stays hashable and compares by value."""

    name: str
    description: str | None = None
    input_schema: str = "{}"


@dataclass(frozen=True, slots=True)
class McpListTools:
    """The server's listing of an MCP server's tools (server-created, never by a client).

    It lands with no tools and is completed by ``mcp_list_tools.completed``; it stands
    in the conversation like any item, so later items anchor on it.
    """

    id: str
    server_label: str
    tools: tuple[McpTool, ...] = ()

    def __post_init__(self) -> None:
        _check_id("McpListTools", self.id)


@dataclass(frozen=True, slots=True)
class McpCall:
    """A call the server made to an MCP tool on the model's behalf.

    Unlike a :class:`FunctionCall`, the server runs it and fills ``output`` (or
    ``error``) itself; accord only mirrors it, and protects it while its response runs.
    """

    id: str
    server_label: str
    name: str
    arguments: str = ""
    approval_request_id: str | None = None
    output: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        _check_id("McpCall", self.id)


@dataclass(frozen=True, slots=True)
class McpApprovalRequest:
    """The server asks before running an MCP tool: answered by an
    :class:`McpApprovalResponse` naming this item's id."""

    id: str
    server_label: str
    name: str
    arguments: str = ""

    def __post_init__(self) -> None:
        _check_id("McpApprovalRequest", self.id)


@dataclass(frozen=True, slots=True)
class McpApprovalResponse:
    """The client's answer to an :class:`McpApprovalRequest` (the one MCP item a
    client creates)."""

    id: str
    approval_request_id: str
    approve: bool
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_id("McpApprovalResponse", self.id)
        _check_id("McpApprovalResponse", self.approval_request_id, "approval_request_id")


McpItem: TypeAlias = McpListTools | McpCall | McpApprovalRequest | McpApprovalResponse
"""The MCP items: the server creates the first three, the client the response."""

Item: TypeAlias = Message | FunctionCall | FunctionCallOutput | McpItem
"""One entry of a conversation: every kind the server keeps, and all a context holds."""

#: Every item class, in the order the alias names them.
ITEM_TYPES: tuple[type[Any], ...] = (
    Message,
    FunctionCall,
    FunctionCallOutput,
    McpListTools,
    McpCall,
    McpApprovalRequest,
    McpApprovalResponse,
)


def same_content(a: Item, b: Item) -> bool:
    """True when two items say the same thing (ids aside): the diff's notion of "changed".

    Every field of every item type counts, so a redacted tool output or a rewritten call
    is a change, not only an edited message.
    """
    return type(a) is type(b) and replace(a, id=b.id) == b


@dataclass(frozen=True, slots=True, eq=False)
class ContextBase:
    """What a writer had seen: an engine version and the items at that version.

    Shared, never copied, by every context derived from one snapshot.
    """

    version: int
    items: tuple[Item, ...]

    def __repr__(self) -> str:
        return f"ContextBase(version={self.version}, items={len(self.items)})"


class ChatContext:
    """An ordered list of items with O(1) lookup by id, carrying its base.

    Ids are unique within a context. Positions are cached and rebuilt lazily after an
    edit, so repeated ``index`` calls between edits are O(1).
    """

    __slots__ = ("_base", "_by_id", "_items", "_pos")

    def __init__(self, items: Iterable[Item] = (), *, base: ContextBase | None = None) -> None:
        self._items: list[Item] = list(items)
        self._pos: dict[str, int] | None = None
        self._base = base
        # All at once, in C-level passes (a session builds a context from the engine's
        # snapshot several times a turn); one item at a time only to name what is wrong.
        if all(map(isinstance, self._items, repeat(ITEM_TYPES))):
            by_id = {item.id: item for item in self._items}
            if len(by_id) == len(self._items):
                self._by_id = by_id
                return
        given, self._items, self._by_id = self._items, [], {}
        for item in given:
            self.append(item)

    # -- the base -----------------------------------------------------------------------

    @property
    def base(self) -> ContextBase | None:
        """The engine snapshot this context was derived from (None: built from scratch)."""
        return self._base

    @property
    def base_version(self) -> int | None:
        """The engine version of the base (None: built from scratch): what a push is
        merged against, so the engine knows which items the writer had seen."""
        return None if self._base is None else self._base.version

    def _derived(self, items: Iterable[Item]) -> ChatContext:
        return ChatContext(items, base=self._base)

    # -- reading ------------------------------------------------------------------------

    @property
    def items(self) -> tuple[Item, ...]:
        """The items in order, as a tuple: a snapshot no later edit of this context
        changes under the caller."""
        return tuple(self._items)

    def ids(self) -> list[str]:
        """The item ids in order (what a policy picks from and a report names)."""
        return [item.id for item in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    @overload
    def __getitem__(self, key: int) -> Item: ...
    @overload
    def __getitem__(self, key: slice) -> ChatContext: ...
    def __getitem__(self, key: int | slice) -> Item | ChatContext:
        if isinstance(key, slice):
            return self._derived(self._items[key])
        return self._items[key]

    def get(self, item_id: str) -> Item | None:
        """The item with ``item_id``, or None: a lookup by id in O(1), so a policy can
        test membership without scanning the conversation."""
        return self._by_id.get(item_id)

    def index(self, item_id: str) -> int:
        """Position of ``item_id``; raises ``KeyError`` when absent."""
        if item_id not in self._by_id:
            raise KeyError(item_id)
        if self._pos is None:
            self._pos = {item.id: i for i, item in enumerate(self._items)}
        return self._pos[item_id]

    def previous_id(self, item_id: str) -> str | None:
        """The id of the item before ``item_id`` (None when it is first)."""
        i = self.index(item_id)
        return self._items[i - 1].id if i > 0 else None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChatContext):
            return self._items == other._items
        if isinstance(other, Sequence):
            return self._items == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChatContext({self._items!r}, base_version={self.base_version})"

    # -- deriving (the base comes along) ------------------------------------------------

    def copy(self) -> ChatContext:
        """A copy to edit, carrying the same base: pushing it deletes only what the
        edit removed, never what arrived after the snapshot."""
        twin = ChatContext.__new__(ChatContext)  # its items are known good: no checks
        twin._items, twin._by_id, twin._pos = list(self._items), dict(self._by_id), None
        twin._base = self._base
        return twin

    def filter(self, keep: Callable[[Item], bool]) -> ChatContext:
        """The items ``keep`` accepts, in order, with the same base (a filtered
        snapshot is still a snapshot: what it dropped is a deliberate removal)."""
        return self._derived(item for item in self._items if keep(item))

    # -- editing in place ---------------------------------------------------------------

    def append(self, item: Item) -> None:
        """Add ``item`` at the end; an id already present raises ``ValueError`` (the
        server refuses duplicate ids, so the context does too)."""
        self._claim(item)
        self._items.append(item)
        if self._pos is not None:
            self._pos[item.id] = len(self._items) - 1

    def insert_after(self, anchor_id: str | None, item: Item) -> None:
        """Insert ``item`` right after ``anchor_id`` (None: at the start)."""
        at = 0 if anchor_id is None else self.index(anchor_id) + 1
        self._claim(item)
        self._items.insert(at, item)
        self._pos = None

    def remove(self, item_id: str) -> Item:
        """Remove and return ``item_id``; raises ``KeyError`` when absent."""
        at = self.index(item_id)
        item = self._items.pop(at)
        del self._by_id[item_id]
        self._pos = None
        return item

    def replace(self, item: Item) -> None:
        """Put ``item`` in place of the item with the same id (an edit, same position)."""
        at = self.index(item.id)
        self._items[at] = item
        self._by_id[item.id] = item

    def _claim(self, item: Item) -> None:
        if not isinstance(item, ITEM_TYPES):
            raise TypeError(f"not a conversation item: {item!r}")
        if item.id in self._by_id:
            raise ValueError(f"duplicate item id in context: {item.id!r}")
        self._by_id[item.id] = item
