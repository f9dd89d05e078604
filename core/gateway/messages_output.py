"""Anthropic's Message object (as its API and SDK shape it) and how a chat answer becomes one:
content blocks thinking, text, then one tool_use per call, and the chat finish reason as
Anthropic's stop_reason. The streamed answer (gateway.messages_stream) builds the same
blocks."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from gateway import protocol as p
from gateway.responses_output import new_id


class TextBlock(msgspec.Struct, kw_only=True, tag="text", tag_field="type"):
    text: str


class ThinkingBlock(msgspec.Struct, kw_only=True, tag="thinking", tag_field="type"):
    thinking: str
    signature: str = ""  # nothing to verify: a thinking block sent back is taken as it is


class ToolUseBlock(msgspec.Struct, kw_only=True, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int


class Message(msgspec.Struct, kw_only=True):
    id: str
    type: str = "message"
    role: str = "assistant"
    model: str
    content: list[ContentBlock] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage


class TokenCount(msgspec.Struct, kw_only=True):
    input_tokens: int


_STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use"}


def stop_reason(finish: str, stop_sequence: str | UnsetType) -> str:
    """The chat finish reason as Anthropic's stop_reason."""
    if finish in _STOP_REASONS:
        return _STOP_REASONS[finish]
    return "end_turn" if stop_sequence is UNSET else "stop_sequence"


def tool_use_id(call_id: str | None) -> str:
    """Anthropic's toolu_ prefix in place of chat's call_ (a history sent back carries it, and
    any id serves the chat pipeline)."""
    return "toolu_" + call_id.removeprefix("call_") if call_id else new_id("toolu")


def tool_input(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object Anthropic's `input` is: every input schema is an
    object schema, and the gate lets only calls valid against it through."""
    value = msgspec.json.decode(arguments or "{}")
    return value if isinstance(value, dict) else {}


def content_blocks(message: p.OutMessage, thinking: bool = True) -> list[ContentBlock]:
    """A chat answer's message as content blocks; `thinking`: whether its reasoning is
    shown. An answer with nothing in it is one empty text block (clients read content[0])."""
    blocks: list[ContentBlock] = []
    if thinking and message.reasoning_content:
        blocks.append(ThinkingBlock(thinking=message.reasoning_content))
    if message.content:
        blocks.append(TextBlock(text=message.content))
    for call in message.tool_calls or []:
        blocks.append(ToolUseBlock(id=tool_use_id(call.id), name=call.function.name,
                                   input=tool_input(call.function.arguments)))
    return blocks or [TextBlock(text="")]


def build_message(completion: p.ChatCompletion, thinking: bool = True) -> Message:
    choice, usage = completion.choices[0], completion.usage
    stop = choice.stop_reason
    return Message(id=new_id("msg"), model=completion.model,
                   content=content_blocks(choice.message, thinking),
                   stop_reason=stop_reason(choice.finish_reason, stop),
                   stop_sequence=None if stop is UNSET else stop,
                   usage=Usage(input_tokens=usage.prompt_tokens,
                               output_tokens=usage.completion_tokens))
