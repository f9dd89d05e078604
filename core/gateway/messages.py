"""POST /v1/messages: Anthropic's Messages API as a translation layer over the chat pipeline.

The request (read by gateway.messages_request) becomes the chat request that means the same,
so the whole chat pipeline and every one of its checks apply (dialects, grammars, the call
gate, budgets); errors name the Messages fields, also those the chat checks find
(`Translated.param`). The chat answer becomes a Message (gateway.messages_output), a stream
of chat chunks Messages events (gateway.messages_stream). count_tokens renders the prompt
the same request would get and has llama.cpp tokenize it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import msgspec

from gateway import protocol as p
from gateway.errors import bad_request
from gateway.messages_output import Message, TokenCount, build_message
from gateway.messages_request import (
    Block,
    InputMessage,
    MessagesRequest,
    OutputConfig,
    ThinkingConfig,
    Tool,
    ToolChoice,
)
from gateway.messages_stream import message_events
from gateway.translation import TranslatedService, Translation, content_text

ROUTES = ("/v1/messages", "/v1/messages/count_tokens")


def is_messages_path(path: str) -> bool:
    """Whether a path is the Messages API's (its errors are Anthropic-shaped)."""
    return path == ROUTES[0] or path.startswith(ROUTES[0] + "/")


class MessagesService(TranslatedService):
    """The Messages API over a chat service: one translated chat request per message."""

    def answer(self, tr: Translated, completion: p.ChatCompletion) -> Message:
        return build_message(completion, tr.thinking)

    def events(self, tr: Translated, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return message_events(chunks, self.chat.model_id, tr.thinking, tr.param)

    async def count_tokens(self, tr: Translated, *, small: bool = False) -> TokenCount:
        """The tokens of the prompt the request would be sent with (every chat check
        applied), as llama.cpp tokenizes a prompt it is given to complete."""
        with tr.renamed_errors():
            prepared = await self.chat.prepare_async(tr.chat, small=small)
        tokens = await self.chat.backend.tokenize(prepared.prompt, add_special=True)
        return TokenCount(input_tokens=len(tokens))


# -- translation to a chat request -------------------------------------------------------------

@dataclass(kw_only=True)
class Translated(Translation):
    """The chat request, and where each of its messages came from in the Messages request
    (to name the Messages field in an error the chat checks raise)."""

    request: MessagesRequest

    RENAMED: ClassVar[Mapping[str, str]] = {
        "max_completion_tokens": "max_tokens", "stop": "stop_sequences",
        "response_format": "output_config.format",
        "response_format.json_schema": "output_config.format",
        "response_format.json_schema.schema": "output_config.format.schema",
        "reasoning_effort": "output_config.effort"}
    FIELDS: ClassVar[Mapping[str, str]] = {
        ".tool_call_id": ".tool_use_id", ".arguments": ".input", ".parameters": ".input_schema"}

    @property
    def thinking(self) -> bool:
        """Whether the answer shows the model's reasoning: only when thinking is asked for,
        as Anthropic answers (a client that did not ask reads `content[0].text`)."""
        thinking = self.request.thinking
        return thinking is not None and thinking.type in ("enabled", "adaptive") and \
            thinking.display != "omitted"


def translate(req: MessagesRequest) -> Translated:
    """The chat request equivalent to `req` (stream usage asked for: message_delta carries
    it)."""
    choice, parallel = _tool_choice(req.tool_choice)
    out = Translated(request=req, chat=p.ChatCompletionRequest(
        messages=[], model=req.model, max_tokens=req.max_tokens, temperature=req.temperature,
        top_p=req.top_p, top_k=req.top_k, stop=req.stop_sequences, stream=req.stream,
        stream_options=p.StreamOptions(include_usage=True) if req.stream else None,
        tools=_tools(req.tools), tool_choice=choice, parallel_tool_calls=parallel,
        response_format=_response_format(req.output_config),
        user=req.metadata.user_id if req.metadata else None,
        reasoning_effort=_effort(req.thinking, req.output_config)),
        tools=list(range(len(req.tools or []))))
    _Conversation(out).read(req)
    return out


def _tools(given: list[Tool] | None) -> list[p.Tool] | None:
    if given is None:
        return None
    tools = []
    for i, t in enumerate(given):
        if t.type not in (None, "custom"):
            raise bad_request(f"tool type {t.type!r} is not supported: this gateway runs "
                              "custom tools only ({name, description, input_schema}); "
                              "Anthropic's own tools (web_search, bash, computer, "
                              "text_editor, code_execution...) are not here", f"tools[{i}].type")
        if not t.name:
            raise bad_request("Field required", f"tools[{i}].name")
        if t.input_schema is None:
            raise bad_request("Field required", f"tools[{i}].input_schema")
        if t.input_schema.get("type") != "object":
            raise bad_request("a tool's input is an object: input_schema needs type 'object'",
                              f"tools[{i}].input_schema.type")
        tools.append(p.Tool(function=p.FunctionDef(
            name=t.name, description=t.description, parameters=t.input_schema,
            strict=t.strict)))
    return tools


ChoiceMode = Literal["none", "auto", "required"]
_CHOICES: dict[str, ChoiceMode] = {"auto": "auto", "any": "required", "none": "none"}


def _tool_choice(choice: ToolChoice | None
                 ) -> tuple[p.NamedToolChoice | ChoiceMode | None, bool | None]:
    """The chat tool_choice, and parallel_tool_calls (false when parallel use is disabled)."""
    if choice is None:
        return None, None
    parallel = False if choice.disable_parallel_tool_use else None
    if choice.type in _CHOICES:
        return _CHOICES[choice.type], parallel
    if choice.type != "tool":
        raise bad_request("tool_choice.type must be 'auto', 'any', 'tool' or 'none'",
                          "tool_choice.type")
    if not choice.name:
        raise bad_request("Field required", "tool_choice.name")
    return p.NamedToolChoice(function=p.NamedFunction(name=choice.name)), parallel


# output_config.effort as the chat request's reasoning_effort (templates that read it)
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def _effort(thinking: ThinkingConfig | None, config: OutputConfig | None) -> str | None:
    """reasoning_effort: output_config.effort, else one from an enabled thinking budget."""
    if config is not None and config.effort is not None:
        if config.effort not in _EFFORTS:
            raise bad_request(f"output_config.effort must be one of {', '.join(_EFFORTS)}",
                              "output_config.effort")
        return _EFFORTS[config.effort]
    if thinking is None:
        return None
    if thinking.type not in ("enabled", "disabled", "adaptive"):
        raise bad_request("thinking.type must be 'enabled', 'disabled' or 'adaptive'",
                          "thinking.type")
    if thinking.type != "enabled":
        return None
    budget = thinking.budget_tokens
    if budget is None or budget < 1:
        raise bad_request("an enabled thinking needs budget_tokens (at least 1)",
                          "thinking.budget_tokens")
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _response_format(config: OutputConfig | None) -> p.ResponseFormat | None:
    fmt = config.format if config is not None else None
    if fmt is None:
        return None
    if fmt.type != "json_schema":
        raise bad_request("output_config.format.type must be 'json_schema'",
                          "output_config.format.type")
    if fmt.schema is None:
        raise bad_request("Field required", "output_config.format.schema")
    return p.ResponseFormat(type="json_schema", json_schema=p.JsonSchemaFormat(
        name="output", schema=fmt.schema))


# block types that belong in the other role's turns
_USER_BLOCKS, _ASSISTANT_BLOCKS = ("text", "tool_result"), ("text", "tool_use", "thinking",
                                                            "redacted_thinking")


class _Conversation:
    """Messages to chat messages: `system` a leading system message; a user turn's
    tool_result blocks tool messages, in order, before a user message with its text; an
    assistant turn one assistant message, its thinking as reasoning_content and its
    tool_use blocks as tool_calls."""

    def __init__(self, out: Translated) -> None:
        self.out = out
        self.messages = out.chat.messages

    def add(self, message: p.Message, where: str) -> None:
        self.messages.append(message)
        self.out.where.append(where)

    def read(self, req: MessagesRequest) -> None:
        if req.system is not None:
            self.add(p.Message(role="system", content=_texts(req.system, "system")), "system")
        given = req.messages or []
        for i, message in enumerate(given):
            at = f"messages[{i}]"
            if isinstance(message.content, list) and not message.content:
                raise bad_request("a message needs content: a string or at least one block",
                                  f"{at}.content")
            if message.role == "user":
                self.user(message, at)
            elif message.role == "assistant":
                self.assistant(message, at)
            else:
                raise bad_request("a message's role must be 'user' or 'assistant' (the system "
                                  "prompt is the top-level `system`)", f"{at}.role")
        if given and given[-1].role == "assistant":
            raise bad_request("a last assistant turn to continue (prefill) is not supported: "
                              "end the conversation with a user turn",
                              f"messages[{len(given) - 1}].role")

    def user(self, message: InputMessage, at: str) -> None:
        if isinstance(message.content, str):
            self.add(p.Message(role="user", content=message.content), at)
            return
        texts = []
        for j, block in enumerate(message.content):
            where = f"{at}.content[{j}]"
            _allowed(block, _USER_BLOCKS, "user", where)
            if block.type == "text":
                texts.append(_text(block, where))
                continue
            if not block.tool_use_id:
                raise bad_request("Field required", f"{where}.tool_use_id")
            result = _texts(block.content or "", f"{where}.content")
            self.add(p.Message(role="tool", tool_call_id=block.tool_use_id,
                               content=f"Error: {result}" if block.is_error else result), where)
        if texts:
            self.add(p.Message(role="user", content="\n\n".join(texts)), at)

    def assistant(self, message: InputMessage, at: str) -> None:
        if isinstance(message.content, str):
            self.add(p.Message(role="assistant", content=message.content), at)
            return
        texts, thoughts, calls = [], [], []
        for j, block in enumerate(message.content):
            where = f"{at}.content[{j}]"
            _allowed(block, _ASSISTANT_BLOCKS, "assistant", where)
            if block.type == "text":
                texts.append(_text(block, where))
            elif block.type == "thinking":
                thoughts.append(block.thinking or "")
            elif block.type == "tool_use":
                calls.append((_call(block, where), where))
            # redacted_thinking: encrypted, nothing this gateway can read
        # a turn of thinking only (an answer cut by max_tokens while it thought) is an empty
        # turn: the chat checks want content or calls
        content = "".join(texts) if texts or not calls else None
        self.add(p.Message(role="assistant", content=content,
                           tool_calls=[call for call, _ in calls] or None,
                           reasoning_content="".join(thoughts) or None), at)
        for c, (_, where) in enumerate(calls):
            self.out.calls[(len(self.messages) - 1, c)] = where


def _allowed(block: Block, kinds: tuple[str, ...], role: str, where: str) -> None:
    if block.type in kinds:
        return
    if block.type in (*_USER_BLOCKS, *_ASSISTANT_BLOCKS):
        raise bad_request(f"a {block.type} block does not belong in a {role} turn",
                          f"{where}.type")
    raise bad_request(f"content block type {block.type!r} is not supported: only text, "
                      "tool_use, tool_result and thinking blocks (this gateway serves text "
                      "models, without server tools)", f"{where}.type")


def _call(block: Block, where: str) -> p.ToolCall:
    for name in ("id", "name"):
        if not getattr(block, name):
            raise bad_request("Field required", f"{where}.{name}")
    assert block.name is not None
    arguments = msgspec.json.encode(block.input or {}).decode()
    return p.ToolCall(id=block.id, function=p.FunctionCall(name=block.name,
                                                           arguments=arguments))


def _text(block: Block, where: str) -> str:
    if block.text is None:
        raise bad_request("Field required", f"{where}.text")
    return block.text


def _texts(content: Any, at: str) -> str:
    """A string, or text blocks joined by blank lines (other blocks are refused)."""
    return content_text(content, at, list[Block], _text_block, "\n\n")


def _text_block(block: Block, where: str) -> str:
    if block.type != "text":
        raise bad_request(f"content block type {block.type!r} is not supported here: only "
                          "text blocks (this gateway serves text models)", f"{where}.type")
    return _text(block, where)
