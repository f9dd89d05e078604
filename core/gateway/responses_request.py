"""A Responses API request as msgspec Structs, and the refusals of what the gateway cannot
honour: it keeps no state, so what needs a stored response, conversation or prompt is a 400
saying to send the whole conversation as `input`. Fields it does not know are ignored, as
OpenAI's own new fields would be."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import GatewayError, bad_request, decode_body

# include values the gateway can honour: a reasoning item already carries its text in its
# summary, which is what a later turn sends back (the "encrypted" copy has nothing to add)
INCLUDABLE = ("reasoning.encrypted_content",)


class InputPart(msgspec.Struct, kw_only=True):
    type: str
    text: str | None = None
    refusal: str | None = None


class InputItem(msgspec.Struct, kw_only=True):
    """Any input item: which fields count depends on `type` (a message may leave it out, an
    item reference too). The fields whose shape differs between item types (content,
    output, summary) are read as they come, and as text parts only for the types that use
    them (gateway.responses), so that an item of a type not supported is refused as such."""
    type: str | None = None
    id: str | None = None
    role: str | None = None
    content: Any = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: Any = None
    summary: Any = None


class FunctionTool(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A tool as the Responses API writes it (flat); other types are read to be refused."""
    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedTool(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A tool_choice object: {"type": "function", "name"} or {"type": "allowed_tools",
    "mode", "tools"} (others are read to be refused)."""
    type: str
    name: str | None = None
    mode: str | None = None
    tools: list[dict[str, Any]] | None = None


class TextFormat(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str
    name: str | None = None
    schema: dict[str, Any] | bool | None = None
    strict: bool | None = None
    description: str | None = None


class TextConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    format: TextFormat | None = None
    verbosity: str | None = None


class ReasoningConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


class ResponsesRequest(msgspec.Struct, kw_only=True):
    input: str | list[InputItem] | None = None
    model: str | None = None
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: str | NamedTool | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool = False
    reasoning: ReasoningConfig | None = None
    truncation: str | None = None
    # Metadata that does not change the output (nothing is stored, whatever `store` says).
    metadata: dict[str, str] | None = None
    user: str | None = None
    store: bool | None = None
    stream_options: dict[str, Any] | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    # Read so that a value the gateway cannot honour is refused, never ignored.
    previous_response_id: str | None = None
    conversation: Any | None = None
    background: bool | None = None
    prompt: Any | None = None
    include: list[str] | None = None
    max_tool_calls: int | None = None
    top_logprobs: int | None = None


_decoder = msgspec.json.Decoder(ResponsesRequest)


def decode_responses_request(body: bytes) -> ResponsesRequest:
    req = decode_body(_decoder, body)
    check_unsupported(req)
    return req


def unsupported(message: str, param: str) -> GatewayError:
    return bad_request(message, param, code="unsupported_parameter")


def check_unsupported(req: ResponsesRequest) -> None:
    stateless = "this gateway keeps no state, so send the whole conversation as `input` " \
                "(earlier output items included)"
    if req.previous_response_id is not None:
        raise unsupported(f"previous_response_id is not supported: {stateless}",
                          "previous_response_id")
    if req.conversation is not None:
        raise unsupported(f"conversation is not supported: {stateless}", "conversation")
    if req.background:
        raise unsupported("background responses are not supported: nothing is stored to "
                          "poll; send the request without background (or stream it)",
                          "background")
    if req.prompt is not None:
        raise unsupported("stored prompts are not supported: send `instructions` and "
                          "`input` instead", "prompt")
    for i, value in enumerate(req.include or []):
        if value not in INCLUDABLE:
            raise unsupported(f"include {value!r} is not supported by this gateway",
                              f"include[{i}]")
    if req.max_tool_calls not in (None, 1):
        raise unsupported("max_tool_calls is supported only as 1 (one call per answer); "
                          "leave it out otherwise", "max_tool_calls")
    if req.top_logprobs:
        raise unsupported("top_logprobs is not supported by this gateway", "top_logprobs")
    if req.truncation not in (None, "disabled", "auto"):
        raise bad_request("truncation must be 'auto' or 'disabled'", "truncation")
    if req.text is not None and req.text.verbosity not in (None, "medium"):
        raise unsupported("text.verbosity other than 'medium' is not supported: the "
                          "model's length is set by max_output_tokens", "text.verbosity")
