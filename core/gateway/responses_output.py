"""The Responses API's response object (as OpenAI's API and SDK shape it) and how a chat
answer becomes one. Streamed and non-streamed answers both build their items through one
`Output`, so a streamed answer's final response has the shape of the non-streamed one."""

from __future__ import annotations

import random
import time
from typing import Any, TypeVar

import msgspec

from gateway import protocol as p
from gateway.responses_request import (
    FunctionTool,
    NamedTool,
    ReasoningConfig,
    ResponsesRequest,
    TextConfig,
    TextFormat,
)


class OutputText(msgspec.Struct, kw_only=True, tag="output_text", tag_field="type"):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)


class SummaryText(msgspec.Struct, kw_only=True, tag="summary_text", tag_field="type"):
    text: str


class MessageItem(msgspec.Struct, kw_only=True, tag="message", tag_field="type"):
    id: str
    status: str = "in_progress"
    role: str = "assistant"
    content: list[OutputText] = msgspec.field(default_factory=list)


class ReasoningItem(msgspec.Struct, kw_only=True, tag="reasoning", tag_field="type"):
    id: str
    summary: list[SummaryText] = msgspec.field(default_factory=list)


class FunctionCallItem(msgspec.Struct, kw_only=True, tag="function_call", tag_field="type"):
    id: str
    call_id: str
    name: str
    arguments: str = ""
    status: str = "in_progress"


OutputItem = MessageItem | ReasoningItem | FunctionCallItem


class InputTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    reasoning_tokens: int = 0  # not counted apart by llama.cpp


class ResponseUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(msgspec.Struct, kw_only=True):
    code: str  # one of the Responses API's codes, see failure()
    message: str
    param: str | None = None
    type: str | None = None


class IncompleteDetails(msgspec.Struct, kw_only=True):
    reason: str


class Response(msgspec.Struct, kw_only=True):
    id: str
    object: str = "response"
    created_at: int
    status: str
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    model: str
    output: list[OutputItem] = msgspec.field(default_factory=list)
    parallel_tool_calls: bool
    tool_choice: str | NamedTool
    tools: list[FunctionTool]
    text: TextConfig
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    instructions: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    reasoning: ReasoningConfig | None = None
    truncation: str = "disabled"
    user: str | None = None
    background: bool = False
    completed_at: int | None = None
    usage: ResponseUsage | None = None


def new_id(prefix: str) -> str:
    """prefix_ and 32 random hex digits: unique, not secret (as chat's completion ids)."""
    return f"{prefix}_{random.getrandbits(128):032x}"


class Output:
    """The output items of one answer, one after the other as OpenAI streams them: a delta of
    another kind than the last item's (or of another call) ends that item and begins the next
    one. Streamed, the items grow delta by delta; non-streamed, they are filled at once
    (output_items). Each getter gives (output_index, item, whether the item is new: then the
    item before it, if any, has just ended)."""

    def __init__(self) -> None:
        self.items: list[OutputItem] = []
        self._call: int | None = None  # the chat answer's index of the call last begun

    def reasoning(self) -> tuple[int, ReasoningItem, bool]:
        last = self.items[-1] if self.items else None
        if isinstance(last, ReasoningItem):
            return len(self.items) - 1, last, False
        return self._begin(ReasoningItem(id=new_id("rs")))

    def message(self) -> tuple[int, MessageItem, bool]:
        last = self.items[-1] if self.items else None
        if isinstance(last, MessageItem):
            return len(self.items) - 1, last, False
        return self._begin(MessageItem(id=new_id("msg")))

    def call(self, index: int, call_id: str | None, name: str | None
             ) -> tuple[int, FunctionCallItem, bool]:
        """The function_call item of the chat answer's call `index`, begun at its first delta
        (which names it)."""
        last = self.items[-1] if self.items else None
        if isinstance(last, FunctionCallItem) and self._call == index:
            return len(self.items) - 1, last, False
        self._call = index
        return self._begin(FunctionCallItem(id=new_id("fc"), call_id=call_id or new_id("call"),
                                            name=name or ""))

    def _begin(self, item: _Item) -> tuple[int, _Item, bool]:
        self.close("completed")
        self.items.append(item)
        return len(self.items) - 1, item, True

    def close(self, status: str) -> None:
        """The last item ends: a message `status` ("completed", or "incomplete" when cut); a
        call "completed" (a call reaches the output only whole, see gateway.callgate)."""
        last = self.items[-1] if self.items else None
        if isinstance(last, MessageItem):
            last.status = status
        elif isinstance(last, FunctionCallItem):
            last.status = "completed"


_Item = TypeVar("_Item", MessageItem, ReasoningItem, FunctionCallItem)


def output_items(message: p.OutMessage, status: str) -> list[OutputItem]:
    """A chat answer's message as Responses output items: reasoning, text, then calls (the
    order a streamed answer's items begin in); `status` is the last item's."""
    out = Output()
    if message.reasoning_content:
        out.reasoning()[1].summary.append(SummaryText(text=message.reasoning_content))
    if message.content:
        out.message()[1].content.append(OutputText(text=message.content))
    for i, call in enumerate(message.tool_calls or []):
        out.call(i, call.id, call.function.name)[1].arguments = call.function.arguments
    out.close(status)
    return out.items


def response_frame(req: ResponsesRequest, model: str) -> Response:
    """The response before any output: what the request asked, echoed as OpenAI does."""
    return Response(
        id=new_id("resp"), created_at=int(time.time()), status="in_progress", model=model,
        parallel_tool_calls=req.parallel_tool_calls is not False and req.max_tool_calls != 1,
        tool_choice=req.tool_choice or "auto", tools=req.tools or [],
        text=req.text or TextConfig(format=TextFormat(type="text")),
        temperature=req.temperature, top_p=req.top_p, max_output_tokens=req.max_output_tokens,
        instructions=req.instructions, metadata=req.metadata or {}, reasoning=req.reasoning,
        truncation=req.truncation or "disabled", user=req.user)


def finished(frame: Response, items: list[OutputItem], finish: str,
             usage: p.Usage | None) -> Response:
    """The final response: completed, or incomplete when max_output_tokens cut it."""
    cut = finish == "length"
    return msgspec.structs.replace(
        frame, status="incomplete" if cut else "completed", output=items,
        incomplete_details=IncompleteDetails(reason="max_output_tokens") if cut else None,
        completed_at=None if cut else int(time.time()), usage=response_usage(usage))


def response_usage(usage: p.Usage | None) -> ResponseUsage:
    u = usage or p.Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    return ResponseUsage(input_tokens=u.prompt_tokens, input_tokens_details=InputTokensDetails(),
                         output_tokens=u.completion_tokens,
                         output_tokens_details=OutputTokensDetails(),
                         total_tokens=u.total_tokens)


def build_response(frame: Response, completion: p.ChatCompletion) -> Response:
    choice = completion.choices[0]
    status = "incomplete" if choice.finish_reason == "length" else "completed"
    return finished(frame, output_items(choice.message, status), choice.finish_reason,
                    completion.usage)
