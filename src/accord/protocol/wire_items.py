"""Conversation items as they travel on the wire, and their conversion to accord's items.

Items are the one nested payload typed strictly: the engine reads ids, roles, call ids,
arguments and transcripts out of them, so it must never see a raw dict. Each content
part type is its own class, chosen by ``type``; the assistant parts also accept the
beta spellings (``text``, ``audio``) so a beta server's items parse losslessly.

MCP items (``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request``,
``mcp_approval_response``) have their own classes, shaped as the SDK's types. Items the
server may send but accord does not model parse to :class:`WireOtherItem` instead of
failing the whole event: the engine still learns their id, which later items may use as
an anchor.

Audio payloads (base64 in ``audio``) are carried as the strings given, never
decoded.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from ..items import (
    FunctionCall,
    FunctionCallOutput,
    Item,
    McpApprovalRequest,
    McpApprovalResponse,
    McpCall,
    McpListTools,
    McpTool,
    Message,
)
from .base import WireModel
from .errors import UnsupportedItemError

ItemStatus: TypeAlias = Literal["completed", "incomplete", "in_progress"]

# -- content parts ----------------------------------------------------------------------


class InputTextPart(WireModel):
    """Text typed by the user, or a system message's text."""

    type: Literal["input_text"] = "input_text"
    text: str


class InputAudioPart(WireModel):
    """User audio: ``audio`` is base64 (absent in server echoes), ``transcript`` may be null."""

    _KEEP_NULL = frozenset({"transcript"})

    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    transcript: str | None = None


class InputImagePart(WireModel):
    """A user image; parsed so such an item is not lost, but not representable in accord."""

    type: Literal["input_image"] = "input_image"
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class OutputTextPart(WireModel):
    """Assistant text (``output_text`` in GA, ``text`` in beta)."""

    type: Literal["output_text", "text"] = "output_text"
    text: str


class OutputAudioPart(WireModel):
    """Assistant audio with its transcript (``output_audio`` in GA, ``audio`` in beta)."""

    _KEEP_NULL = frozenset({"transcript"})

    type: Literal["output_audio", "audio"] = "output_audio"
    audio: str | None = None
    transcript: str | None = None


ContentPart: TypeAlias = Annotated[
    InputTextPart | InputAudioPart | InputImagePart | OutputTextPart | OutputAudioPart,
    Field(discriminator="type"),
]

#: Which part classes each role may carry (the server refuses others).
_PARTS_BY_ROLE: dict[str, tuple[type[WireModel], ...]] = {
    "system": (InputTextPart,),
    "user": (InputTextPart, InputAudioPart, InputImagePart),
    "assistant": (OutputTextPart, OutputAudioPart),
}

# -- items ------------------------------------------------------------------------------


class _WireItemBase(WireModel):
    """Fields every item has. ``id`` is optional only in client creates."""

    id: str | None = None
    object: Literal["realtime.item"] | None = None
    status: ItemStatus | None = None


class WireMessage(_WireItemBase):
    """A system, user or assistant message with its content parts."""

    type: Literal["message"] = "message"
    role: Literal["system", "user", "assistant"]
    content: tuple[ContentPart, ...] = ()

    @model_validator(mode="after")
    def _parts_fit_role(self) -> WireMessage:
        allowed = _PARTS_BY_ROLE[self.role]
        for index, part in enumerate(self.content):
            if not isinstance(part, allowed):
                raise ValueError(
                    f"a {self.role} message cannot carry a {part.type!r} part (content.{index})"
                )
        return self


class WireFunctionCall(_WireItemBase):
    """A function call made by the model; ``arguments`` is a JSON string, maybe partial."""

    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str = ""


class WireFunctionCallOutput(_WireItemBase):
    """The output of a function call, paired with it by ``call_id``."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


class WireMcpTool(WireModel):
    """One listed MCP tool; ``input_schema`` is any JSON value."""

    name: str
    input_schema: Any = None
    description: str | None = None
    annotations: Any = None


class WireMcpListTools(_WireItemBase):
    """An MCP server's tool listing (server-created)."""

    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    server_label: str
    tools: tuple[WireMcpTool, ...] = ()


class WireMcpError(WireModel):
    """Why an MCP call failed: ``protocol_error``, ``tool_execution_error`` or ``http_error``."""

    type: str
    message: str = ""
    code: int | None = None


class WireMcpCall(_WireItemBase):
    """An MCP tool call the server runs; ``output`` / ``error`` arrive when it is done."""

    _KEEP_NULL = frozenset({"approval_request_id", "output", "error"})

    type: Literal["mcp_call"] = "mcp_call"
    server_label: str
    name: str
    arguments: str = ""
    approval_request_id: str | None = None
    output: str | None = None
    error: WireMcpError | None = None


class WireMcpApprovalRequest(_WireItemBase):
    """The server asks the client to approve an MCP call."""

    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    server_label: str
    name: str
    arguments: str = ""


class WireMcpApprovalResponse(_WireItemBase):
    """The client's answer to an approval request."""

    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    approval_request_id: str
    approve: bool
    reason: str | None = None


class WireOtherItem(WireModel):
    """An item type accord does not model (MCP items...), kept whole in its extras."""

    type: str
    id: str | None = None


class WireItemReference(WireModel):
    """A reference to an existing item, only valid in ``response.create``'s ``input``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["item_reference"] = "item_reference"
    id: str


_KNOWN_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
    }
)


def _item_tag(value: Any) -> str:
    """Tag known item types by their ``type`` and everything else as ``other``."""
    if isinstance(value, WireOtherItem):
        return "other"
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _KNOWN_ITEM_TYPES else "other"


_WireMcp: TypeAlias = (
    WireMcpListTools | WireMcpCall | WireMcpApprovalRequest | WireMcpApprovalResponse
)

#: An item a client creates: one of the kinds accord models.
ClientItem: TypeAlias = Annotated[
    WireMessage | WireFunctionCall | WireFunctionCallOutput | _WireMcp,
    Field(discriminator="type"),
]

#: An item in a server event: the three kinds, or anything else as WireOtherItem.
ServerItem: TypeAlias = Annotated[
    Annotated[WireMessage, Tag("message")]
    | Annotated[WireFunctionCall, Tag("function_call")]
    | Annotated[WireFunctionCallOutput, Tag("function_call_output")]
    | Annotated[WireMcpListTools, Tag("mcp_list_tools")]
    | Annotated[WireMcpCall, Tag("mcp_call")]
    | Annotated[WireMcpApprovalRequest, Tag("mcp_approval_request")]
    | Annotated[WireMcpApprovalResponse, Tag("mcp_approval_response")]
    | Annotated[WireOtherItem, Tag("other")],
    Discriminator(_item_tag),
]

#: An entry of ``response.create``'s ``input``: an inline item or a reference.
ResponseInputItem: TypeAlias = Annotated[
    WireMessage | WireFunctionCall | WireFunctionCallOutput | _WireMcp | WireItemReference,
    Field(discriminator="type"),
]

WireItem: TypeAlias = WireMessage | WireFunctionCall | WireFunctionCallOutput | _WireMcp

# -- conversion to and from accord's items ----------------------------------------------


def item_to_wire(item: Item, *, audio: str | None = None) -> WireItem:
    """The wire item for an accord item, under the same id.

    Text goes to ``input_text`` (user, system) or ``output_text`` (assistant); spoken
    messages go to ``input_audio`` / ``output_audio`` with the text as transcript (a
    ``content`` of None means no transcript yet). ``audio`` attaches a base64 payload to
    a spoken message's part; accord's items hold no audio bytes themselves.
    ``audio_ms`` and ``interrupted`` have no wire spelling and are not sent.
    """
    if isinstance(item, Message):
        return WireMessage(id=item.id, role=item.role, content=[_part_for(item, audio)])
    if audio is not None:
        raise ValueError(f"only a spoken message can carry audio, not {type(item).__name__}")
    if isinstance(item, FunctionCall):
        return WireFunctionCall(
            id=item.id, call_id=item.call_id, name=item.name, arguments=item.arguments
        )
    if isinstance(item, FunctionCallOutput):
        return WireFunctionCallOutput(id=item.id, call_id=item.call_id, output=item.output)
    return _mcp_to_wire(item)


def _mcp_to_wire(item: Item) -> WireItem:
    if isinstance(item, McpApprovalResponse):
        return WireMcpApprovalResponse(
            id=item.id,
            approval_request_id=item.approval_request_id,
            approve=item.approve,
            reason=item.reason,
        )
    if isinstance(item, McpCall):
        error = (
            None
            if item.error is None
            else WireMcpError(type="tool_execution_error", message=item.error)
        )
        return WireMcpCall(
            id=item.id,
            server_label=item.server_label,
            name=item.name,
            arguments=item.arguments,
            approval_request_id=item.approval_request_id,
            output=item.output,
            error=error,
        )
    if isinstance(item, McpApprovalRequest):
        return WireMcpApprovalRequest(
            id=item.id, server_label=item.server_label, name=item.name, arguments=item.arguments
        )
    if isinstance(item, McpListTools):
        tools = tuple(
            WireMcpTool(
                name=t.name, description=t.description, input_schema=json.loads(t.input_schema)
            )
            for t in item.tools
        )
        return WireMcpListTools(id=item.id, server_label=item.server_label, tools=tools)
    raise TypeError(f"not a conversation item: {item!r}")


def _mcp_from_wire(wire: WireItem | WireOtherItem, item_id: str) -> Item | None:
    if isinstance(wire, WireMcpCall):
        return McpCall(
            id=item_id,
            server_label=wire.server_label,
            name=wire.name,
            arguments=wire.arguments,
            approval_request_id=wire.approval_request_id,
            output=wire.output,
            error=None if wire.error is None else (wire.error.message or wire.error.type),
        )
    if isinstance(wire, WireMcpApprovalRequest):
        return McpApprovalRequest(
            id=item_id, server_label=wire.server_label, name=wire.name, arguments=wire.arguments
        )
    if isinstance(wire, WireMcpApprovalResponse):
        return McpApprovalResponse(
            id=item_id,
            approval_request_id=wire.approval_request_id,
            approve=wire.approve,
            reason=wire.reason,
        )
    if isinstance(wire, WireMcpListTools):
        tools = tuple(
            McpTool(
                name=t.name,
                description=t.description,
                input_schema=json.dumps(t.input_schema, sort_keys=True),
            )
            for t in wire.tools
        )
        return McpListTools(id=item_id, server_label=wire.server_label, tools=tools)
    return None


def _part_for(message: Message, audio: str | None) -> ContentPart:
    if message.audio:
        if message.role == "assistant":
            return OutputAudioPart(audio=audio, transcript=message.content)
        return InputAudioPart(audio=audio, transcript=message.content)
    if audio is not None:
        raise ValueError("audio given for a message that is not spoken (Message.audio=False)")
    if message.role == "assistant":
        return OutputTextPart(text=message.text)
    return InputTextPart(text=message.text)


def item_from_wire(wire: WireItem | WireOtherItem) -> Item:
    """The accord item for a wire item; raises :class:`UnsupportedItemError` if there is none.

    A message's text parts are joined; a message with an audio part is spoken and its
    content is the transcript (None while any audio part still lacks one). A message
    with no parts yet (an assistant item just added) is an empty text message. Items
    without an id, image parts and item types accord does not model are unsupported.
    """
    if wire.id is None:
        raise UnsupportedItemError(f"a {wire.type!r} item without an id cannot be tracked")
    try:
        if isinstance(wire, WireMessage):
            return _message_from_wire(wire, wire.id)
        if isinstance(wire, WireFunctionCall):
            return FunctionCall(
                id=wire.id, call_id=wire.call_id, name=wire.name, arguments=wire.arguments
            )
        if isinstance(wire, WireFunctionCallOutput):
            return FunctionCallOutput(id=wire.id, call_id=wire.call_id, output=wire.output)
        mcp = _mcp_from_wire(wire, wire.id)
        if mcp is not None:
            return mcp
    except ValueError as exc:
        raise UnsupportedItemError(f"item {wire.id!r}: {exc}") from exc
    raise UnsupportedItemError(f"item {wire.id!r} of type {wire.type!r} is not modelled by accord")


def _message_from_wire(wire: WireMessage, item_id: str) -> Message:
    texts: list[str] = []
    transcripts: list[str | None] = []
    for part in wire.content:
        if isinstance(part, InputTextPart | OutputTextPart):
            texts.append(part.text)
        elif isinstance(part, InputAudioPart | OutputAudioPart):
            transcripts.append(part.transcript)
        else:
            raise UnsupportedItemError(f"item {item_id!r}: a {part.type!r} part is not modelled")
    if not transcripts:
        return Message(id=item_id, role=wire.role, content="".join(texts))
    if any(t is None for t in transcripts):
        content: str | None = None
    else:
        content = "".join(texts) + "".join(t for t in transcripts if t is not None)
    return Message(id=item_id, role=wire.role, content=content, audio=True)
