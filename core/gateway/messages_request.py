"""An Anthropic Messages API request as msgspec Structs, and the refusals of what the gateway
cannot honour. Fields it does not know are ignored, as with the chat and Responses requests
(Anthropic's own new fields would be); those it knows and cannot honour are a 400 naming
them."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import bad_request, decode_body


class Block(msgspec.Struct, kw_only=True):
    """Any content block: which fields count depends on `type` (text, tool_use, tool_result,
    thinking; the others are read to be refused). A tool_result's content is read as it
    comes, and as blocks only when it is a list (gateway.messages)."""
    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    content: Any = None
    is_error: bool | None = None
    thinking: str | None = None
    signature: str | None = None


class InputMessage(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[Block]


class Tool(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A custom tool; a tool of another type (Anthropic's server and client tools: bash,
    web_search, computer, text_editor...) is read to be refused."""
    name: str | None = None
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoice(msgspec.Struct, kw_only=True):
    type: str
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class ThinkingConfig(msgspec.Struct, kw_only=True):
    type: str
    budget_tokens: int | None = None
    display: str | None = None  # "omitted": the thinking is not shown


class OutputFormat(msgspec.Struct, kw_only=True):
    type: str
    schema: dict[str, Any] | None = None


class OutputConfig(msgspec.Struct, kw_only=True):
    effort: str | None = None
    format: OutputFormat | None = None


class Metadata(msgspec.Struct, kw_only=True):
    user_id: str | None = None


class MessagesRequest(msgspec.Struct, kw_only=True):
    model: str | None = None
    max_tokens: int | None = None  # required to create a message, not to count its tokens
    messages: list[InputMessage] | None = None
    system: str | list[Block] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    thinking: ThinkingConfig | None = None
    output_config: OutputConfig | None = None
    # Metadata that does not change the output.
    metadata: Metadata | None = None
    service_tier: str | None = None
    cache_control: Any = None  # llama.cpp caches every prompt's prefix on its own
    inference_geo: str | None = None
    # Read so that a value the gateway cannot honour is refused, never ignored.
    container: Any = None
    mcp_servers: Any = None


_decoder = msgspec.json.Decoder(MessagesRequest)


def decode_messages_request(body: bytes, *, counting: bool = False) -> MessagesRequest:
    """counting: for /v1/messages/count_tokens, which takes no max_tokens."""
    req = decode_body(_decoder, body)
    if req.messages is None:
        raise bad_request("Field required", "messages")
    if req.max_tokens is None and not counting:
        raise bad_request("Field required", "max_tokens")
    if req.container is not None:
        raise bad_request("container is not supported: this gateway runs no server tools "
                          "(code execution)", "container")
    if req.mcp_servers:  # an empty list asks for nothing
        raise bad_request("mcp_servers is not supported: this gateway connects to no MCP "
                          "server; give the tools as custom tools", "mcp_servers")
    return req
