"""Checks an OpenAI chat request and turns it into a dialect's RequestContext, complete.

Everything the gateway cannot honour is refused with a 400 that says so, never ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from gateway.cache import BoundedCache, digest
from gateway.config import Settings
from gateway.dialect import RequestContext, ToolChoiceMode, ToolDef
from gateway.errors import bad_request
from gateway.protocol import ChatCompletionRequest, Message, NamedToolChoice, Tool

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_encode = msgspec.json.encode


def check_unsupported(req: ChatCompletionRequest) -> None:
    if req.n not in (None, 1):
        raise bad_request("n > 1 is not supported: send one request per choice", "n")
    if req.logprobs:
        raise bad_request("logprobs are not supported by this gateway", "logprobs")
    if req.top_logprobs:
        raise bad_request("top_logprobs is not supported by this gateway", "top_logprobs")
    if req.logit_bias:
        raise bad_request("logit_bias is not supported: token ids differ between models",
                          "logit_bias")
    if req.functions is not None or req.function_call is not None:
        raise bad_request("the deprecated functions/function_call fields are not supported: "
                          "use tools/tool_choice", "functions")
    if req.modalities and any(m != "text" for m in req.modalities):
        raise bad_request("only the text modality is supported", "modalities")
    if req.audio is not None:
        raise bad_request("audio output is not supported", "audio")
    if req.prediction is not None:
        raise bad_request("predicted outputs are not supported", "prediction")


def check_sampling(req: ChatCompletionRequest, settings: Settings) -> None:
    max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None \
        else req.max_tokens
    if max_tokens is not None and max_tokens < 1:
        raise bad_request("max_tokens must be at least 1", "max_tokens")
    if req.temperature is not None and not 0 <= req.temperature <= 2:
        raise bad_request("temperature must be between 0 and 2", "temperature")
    if req.top_p is not None and not 0 <= req.top_p <= 1:
        raise bad_request("top_p must be between 0 and 1", "top_p")
    for name in ("presence_penalty", "frequency_penalty"):
        v = getattr(req, name)
        if v is not None and not -2 <= v <= 2:
            raise bad_request(f"{name} must be between -2 and 2", name)
    stops = [req.stop] if isinstance(req.stop, str) else (req.stop or [])
    if len(stops) > settings.max_stop_words:
        raise bad_request(f"at most {settings.max_stop_words} stop sequences are allowed", "stop")
    if any(not s for s in stops):
        raise bad_request("stop sequences must not be empty", "stop")


def _content_text(m: Message, i: int) -> str | None:
    if m.content is None or isinstance(m.content, str):
        return m.content
    parts = []
    for j, p in enumerate(m.content):
        if p.type != "text" or p.text is None:
            raise bad_request(f"content part type {p.type!r} is not supported: only text parts",
                              f"messages[{i}].content[{j}].type")
        parts.append(p.text)
    return "".join(parts)


def normalize_messages(req: ChatCompletionRequest) -> list[dict[str, Any]]:
    if not req.messages:
        raise bad_request("messages must contain at least one message", "messages")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(req.messages):
        content = _content_text(m, i)
        msg: dict[str, Any] = {"role": m.role, "content": content}
        if m.role in ("user", "system", "developer") and content is None:
            raise bad_request(f"a {m.role} message needs content", f"messages[{i}].content")
        if m.role == "tool":
            if not m.tool_call_id:
                raise bad_request("a tool message needs tool_call_id",
                                  f"messages[{i}].tool_call_id")
            msg["tool_call_id"] = m.tool_call_id
        if m.name:
            msg["name"] = m.name
        if m.role == "assistant" and m.tool_calls:
            calls = []
            for j, tc in enumerate(m.tool_calls):
                args = tc.function.arguments
                if isinstance(args, str):
                    try:
                        json.loads(args or "{}")
                    except ValueError as exc:
                        raise bad_request(
                            f"tool call arguments must be a JSON string: {exc}",
                            f"messages[{i}].tool_calls[{j}].function.arguments") from exc
                else:
                    args = json.dumps(args, ensure_ascii=False)
                calls.append({"id": tc.id or f"call_{i}_{j}", "type": "function",
                              "function": {"name": tc.function.name, "arguments": args}})
            msg["tool_calls"] = calls
        elif m.role == "assistant" and content is None:
            raise bad_request("an assistant message needs content or tool_calls",
                              f"messages[{i}].content")
        out.append(msg)
    return out


def build_context(req: ChatCompletionRequest, settings: Settings) -> RequestContext:
    check_unsupported(req)
    check_sampling(req, settings)
    messages = normalize_messages(req)
    key = tools_key(req)
    tools: list[ToolDef] = []
    if has_tools(req):
        tools = checked_tools(req, settings, key)
        if len(tools) > settings.max_tools:
            raise bad_request(f"at most {settings.max_tools} tools are allowed (--max-tools)",
                              "tools")
    reasoning_effort = req.reasoning_effort
    if reasoning_effort is not None and \
            reasoning_effort not in ("minimal", "low", "medium", "high"):
        raise bad_request("reasoning_effort must be one of minimal, low, medium, high",
                          "reasoning_effort")
    tool_choice: ToolChoiceMode = "auto"
    forced_tool: str | None = None
    choice = req.tool_choice
    if isinstance(choice, NamedToolChoice):
        if choice.function.name not in {t.name for t in tools}:
            raise bad_request(f"tool_choice names {choice.function.name!r}, which is not in tools",
                              "tool_choice")
        tool_choice, forced_tool = "named", choice.function.name
    elif choice is not None:
        if choice == "required" and not tools:
            raise bad_request("tool_choice 'required' needs at least one tool", "tool_choice")
        tool_choice = choice
    json_mode, response_schema, strict = False, None, False
    rf = req.response_format
    if rf is not None and rf.type == "json_object":
        json_mode = True
    elif rf is not None and rf.type == "json_schema":
        if rf.json_schema is None or rf.json_schema.schema is None:
            raise bad_request("response_format json_schema needs json_schema.schema",
                              "response_format.json_schema")
        response_schema = rf.json_schema.schema
        rf_strict = rf.json_schema.strict
        strict = rf_strict if rf_strict is not None else settings.strict_default
    return RequestContext(
        messages=messages, tools=tools, tool_choice=tool_choice, forced_tool=forced_tool,
        parallel_tool_calls=req.parallel_tool_calls is not False,
        response_schema=response_schema, json_mode=json_mode, strict=strict,
        reasoning_effort=reasoning_effort, tools_key=key)


# The checked tools of a tool list seen before, by tools_key (+ the strict default they were
# built with), with the encoded schemas they were built from. A request with the same key
# takes the same ToolDefs (building and checking 20 took ~30 µs a request); the schemas are
# encoded again on each hit and compared, so a schema changed in place by anyone along the
# way never reaches a later request: that entry is built anew from the request's own.
# A tool list whose schemas encode to more than _TOOLS_MAX_BYTES is built anew each time: the
# cache holds at most 128 lists of at most that size.
_TOOLS: BoundedCache[tuple[list[ToolDef], bytes]] = BoundedCache(128)
_TOOLS_MAX_BYTES = 128 * 1024


def checked_tools(req: ChatCompletionRequest, settings: Settings, key: bytes) -> list[ToolDef]:
    """The request's tools as ToolDefs: names checked (the pattern, no duplicates), parameters
    defaulted to an empty object schema, strict defaulted from the settings. A new list
    each call; the ToolDefs (frozen) may be those of an earlier request with the same
    tools, and then the request's own tools are not even decoded (see decode_request)."""
    cache_key = key + (b"s" if settings.strict_default else b"n")
    found = _TOOLS.get(cache_key)
    if found is not None:
        tools, schemas = found
        if _encode([t.parameters for t in tools]) == schemas:
            return list(tools)
    given = request_tools(req)
    assert given
    tools = []
    seen: set[str] = set()
    for i, t in enumerate(given):
        fn = t.function
        if not _TOOL_NAME.match(fn.name):
            raise bad_request("tool names must match ^[A-Za-z0-9_.-]{1,64}$",
                              f"tools[{i}].function.name")
        if fn.name in seen:
            raise bad_request(f"duplicate tool name {fn.name!r}", f"tools[{i}].function.name")
        seen.add(fn.name)
        params = fn.parameters if fn.parameters is not None else {
            "type": "object", "properties": {}}
        strict = fn.strict if fn.strict is not None else settings.strict_default
        tools.append(ToolDef(fn.name, fn.description or "", params, strict))
    schemas = _encode([t.parameters for t in tools])
    if len(schemas) <= _TOOLS_MAX_BYTES:
        _TOOLS.put(cache_key, (tools, schemas))
    return list(tools)


def has_tools(req: ChatCompletionRequest) -> bool:
    """Whether the request has a non-empty tool list, without decoding it."""
    given: Any = req.tools
    if isinstance(given, msgspec.Raw):
        return _RAW_NO_TOOLS.fullmatch(given) is None
    return bool(given)


def request_tools(req: ChatCompletionRequest) -> list[Tool] | None:
    """The request's tools, decoded from the body's own text on first use (a decode error is
    the 400 it would have been with the request). decode_request leaves them undecoded: a
    tool list seen before is found by its text's digest, and its checked ToolDefs are taken
    without decoding and checking it again (20 tools: ~50 µs of a request's ~300)."""
    given: Any = req.tools
    if isinstance(given, msgspec.Raw):
        from gateway.errors import from_decode_error

        decoded = req.__dict__.get("decoded_tools", given)
        if decoded is given:
            try:
                decoded = _tools_decoder.decode(given) if len(given) else None
            except msgspec.DecodeError as exc:
                raise from_decode_error(exc, under="tools") from exc
            # kept beside the text, which stays: tools_key reads it (the same key before and
            # after this decode)
            req.__dict__["decoded_tools"] = decoded
        return decoded  # type: ignore[no-any-return]
    return given  # type: ignore[no-any-return]


def tools_key(req: ChatCompletionRequest) -> bytes:
    """A digest of what the tool descriptions and grammar depend on (tools, tool_choice,
    parallel_tool_calls, response_format): not the encoded request, a tool list can be
    megabytes. Empty when there is nothing to cache. The tools as the request wrote them
    when it was decoded by decode_request (two spellings of one list are two keys: a cache
    miss, never a wrong hit)."""
    given: Any = req.tools
    rest = (req.tool_choice, req.parallel_tool_calls, req.response_format)
    if isinstance(given, msgspec.Raw):
        if not has_tools(req) and req.response_format is None:
            return b""
        return digest(b"r" + _encode(rest) + bytes(given))
    if not given and req.response_format is None:
        return b""
    return digest(msgspec.json.encode((given, *rest)))


def decode_request(body: bytes) -> ChatCompletionRequest:
    from gateway.errors import decode_body

    return decode_body(_decoder, body)


class _WireRequest(ChatCompletionRequest, kw_only=True, dict=True):
    """A request as decode_request reads it: the tools kept as the body's text (an empty Raw
    when absent) until request_tools needs them."""
    tools: msgspec.Raw = msgspec.Raw()  # type: ignore[assignment]


_decoder = msgspec.json.Decoder(_WireRequest)
_tools_decoder = msgspec.json.Decoder(list[Tool] | None)
_RAW_NO_TOOLS = re.compile(rb"\s*(null|\[\s*\])?\s*")
