"""POST /v1/responses: OpenAI's Responses API as a translation layer over the chat pipeline.

The request (read by gateway.responses_request) becomes the chat request that means the
same, so the whole chat pipeline and every one of its checks apply; errors name the
Responses fields, also those the chat checks find (`Translated.param`). The chat answer
becomes a Response object (gateway.responses_output), a stream of chat chunks Responses
events (gateway.responses_stream). Nothing is stored: the gateway stays stateless."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from gateway import protocol as p
from gateway.errors import bad_request
from gateway.responses_output import Response, build_response, response_frame
from gateway.responses_request import (
    FunctionTool,
    InputItem,
    InputPart,
    NamedTool,
    ResponsesRequest,
    TextConfig,
    unsupported,
)
from gateway.responses_stream import response_events
from gateway.translation import TranslatedService, Translation, content_text

ROLES = ("user", "system", "developer", "assistant")
TEXT_PARTS = ("input_text", "output_text", "summary_text", "reasoning_text")


class ResponsesService(TranslatedService):
    """The Responses API over a chat service: one translated chat request per response."""

    def answer(self, tr: Translated, completion: p.ChatCompletion) -> Response:
        return build_response(response_frame(tr.request, completion.model), completion)

    def events(self, tr: Translated, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return response_events(chunks, response_frame(tr.request, self.chat.model_id),
                               tr.param)


# -- translation to a chat request -------------------------------------------------------------

@dataclass(kw_only=True)
class Translated(Translation):
    """The chat request, and where each of its messages came from in the Responses request
    (to name the Responses field in an error the chat checks raise)."""

    request: ResponsesRequest

    RENAMED: ClassVar[Mapping[str, str]] = {
        "messages": "input", "max_tokens": "max_output_tokens",
        "max_completion_tokens": "max_output_tokens", "response_format": "text.format",
        "response_format.json_schema": "text.format",
        "response_format.json_schema.schema": "text.format.schema",
        "reasoning_effort": "reasoning.effort"}
    FIELDS: ClassVar[Mapping[str, str]] = {".tool_call_id": ".call_id"}


def translate(req: ResponsesRequest) -> Translated:
    """The chat request equivalent to `req` (stream usage asked for: the final response
    carries it)."""
    tools = _tools(req.tools)
    choice, kept = _tool_choice(req.tool_choice, tools)
    if tools is not None and kept is not None:
        tools = [tools[i] for i in kept]
    out = Translated(request=req, chat=p.ChatCompletionRequest(
        messages=[], model=req.model, max_tokens=req.max_output_tokens,
        temperature=req.temperature, top_p=req.top_p, stream=req.stream,
        stream_options=p.StreamOptions(include_usage=True) if req.stream else None,
        tools=tools, tool_choice=choice,
        parallel_tool_calls=False if req.max_tool_calls == 1 else req.parallel_tool_calls,
        response_format=_response_format(req.text), user=req.user, metadata=req.metadata,
        store=req.store, reasoning_effort=req.reasoning.effort if req.reasoning else None),
        tools=kept if kept is not None else list(range(len(req.tools or []))))
    _Conversation(out).read(req)
    return out


def _tools(given: list[FunctionTool] | None) -> list[p.Tool] | None:
    if given is None:
        return None
    tools = []
    for i, t in enumerate(given):
        if t.type != "function":
            raise unsupported(f"tool type {t.type!r} is not supported: this gateway runs "
                              "function tools only (built-in tools such as web_search, "
                              "file_search or computer use are OpenAI's own)",
                              f"tools[{i}].type")
        if not t.name:
            raise bad_request("a function tool needs a name", f"tools[{i}].name")
        tools.append(p.Tool(function=p.FunctionDef(
            name=t.name, description=t.description, parameters=t.parameters,
            strict=t.strict)))
    return tools


ChoiceMode = Literal["none", "auto", "required"]
_CHOICES: dict[str, ChoiceMode] = {"none": "none", "auto": "auto", "required": "required"}


def _tool_choice(choice: str | NamedTool | None, tools: list[p.Tool] | None
                 ) -> tuple[p.NamedToolChoice | ChoiceMode | None, list[int] | None]:
    """The chat tool_choice, and for allowed_tools the indexes of the tools it keeps (the
    chat request offers only those: the model can call no other)."""
    if choice is None:
        return None, None
    if isinstance(choice, str):
        if choice in _CHOICES:
            return _CHOICES[choice], None
        raise bad_request("tool_choice must be 'auto', 'none', 'required', "
                          "{'type': 'function', 'name': ...} or {'type': 'allowed_tools', "
                          "...}", "tool_choice")
    if choice.type == "allowed_tools":
        return _allowed_tools(choice, tools)
    if choice.type != "function":
        raise unsupported(f"tool_choice type {choice.type!r} is not supported: only "
                          "'function' and 'allowed_tools' (this gateway runs function tools "
                          "only)", "tool_choice.type")
    if not choice.name:
        raise bad_request("tool_choice of type 'function' needs a name", "tool_choice.name")
    return p.NamedToolChoice(function=p.NamedFunction(name=choice.name)), None


def _allowed_tools(choice: NamedTool, tools: list[p.Tool] | None
                   ) -> tuple[ChoiceMode, list[int]]:
    if choice.mode not in ("auto", "required"):
        raise bad_request("tool_choice of type 'allowed_tools' needs mode 'auto' or "
                          "'required'", "tool_choice.mode")
    if not choice.tools:
        raise bad_request("tool_choice of type 'allowed_tools' needs tools (at least one)",
                          "tool_choice.tools")
    names = [t.function.name for t in tools or []]
    kept = []
    for k, allowed in enumerate(choice.tools):
        if allowed.get("type") != "function":
            raise unsupported("allowed_tools lists function tools only: {'type': 'function', "
                              "'name': ...}", f"tool_choice.tools[{k}].type")
        name = allowed.get("name")
        if name not in names:
            raise bad_request(f"allowed_tools names {name!r}, which is not in tools",
                              f"tool_choice.tools[{k}].name")
        kept.append(names.index(name))
    return _CHOICES[choice.mode], sorted(set(kept))


def _response_format(text: TextConfig | None) -> p.ResponseFormat | None:
    fmt = text.format if text is not None else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return p.ResponseFormat(type="json_object")
    if fmt.type != "json_schema":
        raise bad_request("text.format.type must be 'text', 'json_object' or 'json_schema'",
                          "text.format.type")
    if fmt.schema is None:
        raise bad_request("text.format of type 'json_schema' needs a schema",
                          "text.format.schema")
    return p.ResponseFormat(type="json_schema", json_schema=p.JsonSchemaFormat(
        name=fmt.name or "response", schema=fmt.schema, strict=fmt.strict,
        description=fmt.description))


class _Conversation:
    """Input items to chat messages: consecutive function_call items (and the assistant
    message before them) make one assistant message with tool_calls; a function_call_output
    is a tool message; a reasoning item's text goes to the next assistant message."""

    def __init__(self, out: Translated) -> None:
        self.out = out
        self.messages = out.chat.messages
        self.reasoning: list[str] = []

    def add(self, message: p.Message, where: str) -> None:
        if message.role == "assistant" and self.reasoning:
            message.reasoning_content = "".join(self.reasoning)
            self.reasoning = []
        self.messages.append(message)
        self.out.where.append(where)

    def read(self, req: ResponsesRequest) -> None:
        if req.instructions is not None:
            self.add(p.Message(role="system", content=req.instructions), "instructions")
        if isinstance(req.input, str):
            self.add(p.Message(role="user", content=req.input), "input")
            return
        for i, item in enumerate(req.input or []):
            self.item(item, f"input[{i}]")

    def item(self, item: InputItem, at: str) -> None:
        # an item without type is a message, or (only an id) a reference to a stored item
        kind = item.type or ("item_reference" if item.role is None and item.id else "message")
        if kind == "message":
            self.message(item, at)
        elif kind == "function_call":
            self.call(item, at)
        elif kind == "function_call_output":
            if not item.call_id:
                raise bad_request("a function_call_output needs call_id", f"{at}.call_id")
            self.add(p.Message(role="tool", tool_call_id=item.call_id,
                               content=_text(item.output or "", f"{at}.output")), at)
        elif kind == "reasoning":  # its text: the summary, else the full content, if any
            text = _text(item.summary or item.content or "",
                         f"{at}.summary" if item.summary else f"{at}.content")
            if text:
                self.reasoning.append(text)
        elif kind == "item_reference":
            raise unsupported("item references need stored items, and this gateway keeps "
                              "none: send the item itself", f"{at}.type")
        else:
            raise unsupported(f"input item type {kind!r} is not supported: only message, "
                              "function_call, function_call_output and reasoning items",
                              f"{at}.type")

    def message(self, item: InputItem, at: str) -> None:
        if item.role not in ROLES:
            raise bad_request(f"a message's role must be one of {', '.join(ROLES)}",
                              f"{at}.role")
        if item.content is None:
            raise bad_request("a message needs content", f"{at}.content")
        role: Any = item.role
        self.add(p.Message(role=role, content=_text(item.content, f"{at}.content")), at)

    def call(self, item: InputItem, at: str) -> None:
        for name in ("call_id", "name"):
            if not getattr(item, name):
                raise bad_request(f"a function_call needs {name}", f"{at}.{name}")
        assert item.name is not None
        call = p.ToolCall(id=item.call_id, function=p.FunctionCall(
            name=item.name, arguments=item.arguments or "{}"))
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "assistant" or self.reasoning:
            last = p.Message(role="assistant")
            self.add(last, at)
        last.tool_calls = [*(last.tool_calls or []), call]
        self.out.calls[(len(self.messages) - 1, len(last.tool_calls) - 1)] = at


def _text(content: Any, at: str) -> str:
    """A content field's text: a string, or text parts joined (other parts are refused)."""
    return content_text(content, at, list[InputPart], _part_text)


def _part_text(part: InputPart, at: str) -> str:
    if part.type not in (*TEXT_PARTS, "refusal"):
        raise unsupported(f"content part type {part.type!r} is not supported: only text "
                          "parts", f"{at}.type")
    name = "refusal" if part.type == "refusal" else "text"
    text: str | None = getattr(part, name)
    if text is None:
        raise bad_request(f"a {part.type} part needs {name}", f"{at}.{name}")
    return text
