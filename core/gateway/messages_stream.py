"""A chat answer's SSE chunks as Anthropic Messages stream events (`event: TYPE` / `data:
JSON`): message_start, then for each content block in order its content_block_start, deltas
(text_delta, thinking_delta, input_json_delta) and content_block_stop, then message_delta
(stop_reason, stop_sequence, usage) and message_stop. A delta of another kind than the open
block's (or of another call) ends that block and begins the next, as Anthropic streams them.
An error, from the chat stream or here, is an `error` event: the stream never just stops."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from msgspec import UNSET

from gateway import protocol as p
from gateway.errors import anthropic_error_of
from gateway.messages_output import (
    ContentBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
    stop_reason,
    tool_use_id,
)
from gateway.responses_output import new_id
from gateway.translation import StreamTranslator, sse_event, translated_events


def message_events(chunks: AsyncIterator[bytes], model: str, thinking: bool = True,
                   rename: Callable[[str | None], str | None] = lambda x: x
                   ) -> AsyncIterator[bytes]:
    """`chunks` (a chat stream) as Messages events; `thinking`: whether the reasoning is
    shown. `rename`: a chat error's param as the Messages request names it. Closing this
    generator closes `chunks` (and with it the generation)."""
    return translated_events(chunks, MessageEvents(model, thinking), rename)


class MessageEvents(StreamTranslator):
    """The events of one message, built from chat chunks as they come."""

    def __init__(self, model: str, thinking: bool = True) -> None:
        super().__init__()
        self.frame = Message(id=new_id("msg"), model=model,
                             usage=Usage(input_tokens=0, output_tokens=0))
        self.thinking = thinking
        self.blocks = 0  # content blocks begun
        self.open: tuple[str, int] | None = None  # the open block's kind (and call index)

    @staticmethod
    def event(kind: str, **fields: Any) -> bytes:
        return sse_event(kind, {"type": kind, **fields})

    def start(self) -> bytes:
        # the prompt's tokens are known at the end: message_delta's usage carries them
        return self.event("message_start", message=self.frame)

    def reasoning(self, delta: str) -> list[bytes]:
        if not self.thinking:
            return []
        out = self.begin(("thinking", 0), lambda: ThinkingBlock(thinking=""))
        return out + [self.delta({"type": "thinking_delta", "thinking": delta})]

    def text(self, delta: str) -> list[bytes]:
        out = self.begin(("text", 0), lambda: TextBlock(text=""))
        return out + [self.delta({"type": "text_delta", "text": delta})]

    def call(self, call: p.DeltaToolCall) -> list[bytes]:
        """A call's first delta names it (its block begins); every piece of its arguments
        is an input_json_delta."""
        fn = call.function
        out = self.begin(("tool_use", call.index), lambda: ToolUseBlock(
            id=tool_use_id(call.id), name=(fn.name or "") if fn else "", input={}))
        if fn is not None and fn.arguments:
            out.append(self.delta({"type": "input_json_delta", "partial_json": fn.arguments}))
        return out

    def begin(self, key: tuple[str, int], block: Callable[[], ContentBlock]) -> list[bytes]:
        """The block `key` goes on, or ends the open one and begins."""
        if self.open == key:
            return []
        out = self.stop()
        self.open = key
        self.blocks += 1
        out.append(self.event("content_block_start", index=self.blocks - 1,
                              content_block=block()))
        return out

    def delta(self, delta: dict[str, str]) -> bytes:
        return self.event("content_block_delta", index=self.blocks - 1, delta=delta)

    def stop(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [self.event("content_block_stop", index=self.blocks - 1)]

    def end(self) -> bytes:
        """The open block ends (an answer with none is one empty text block, as a
        non-streamed one), then the stop reason and the usage."""
        assert self.finish is not None
        out = self.begin(("text", 0), lambda: TextBlock(text="")) if not self.blocks else []
        out += self.stop()
        stop = self.stop_sequence
        usage = self.usage or p.Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
        out.append(self.event(
            "message_delta",
            delta={"stop_reason": stop_reason(self.finish, stop),
                   "stop_sequence": None if stop is UNSET else stop},
            usage={"input_tokens": usage.prompt_tokens,
                   "output_tokens": usage.completion_tokens}))
        out.append(self.event("message_stop"))
        return b"".join(out)

    def failed(self, message: str, kind: str | None, param: str | None = None) -> bytes:
        return sse_event("error", anthropic_error_of(message, kind, param))
