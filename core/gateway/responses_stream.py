"""A chat answer's SSE chunks as Responses API events (`event: TYPE` / `data: JSON`, each
with the next sequence_number): response.created and .in_progress, then per output item
its added / delta / done events, and response.completed (or .incomplete when max tokens
cut the answer) with the whole final response. An error, from the chat stream or here,
becomes response.failed: the stream never just stops.

The chunks are decoded again (msgspec): this layer is not on the hot path, and reading the
chat stream's own bytes keeps one streaming pipeline to test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from gateway import protocol as p
from gateway.responses_output import (
    FunctionCallItem,
    MessageItem,
    Output,
    OutputItem,
    OutputText,
    ReasoningItem,
    Response,
    ResponseError,
    SummaryText,
    finished,
    response_usage,
)
from gateway.translation import StreamTranslator, sse_event, translated_events

# the Responses API's error codes for the chat errors' types (its codes are a fixed list)
_ERROR_CODES = {"invalid_request_error": "invalid_prompt",
                "rate_limit_error": "rate_limit_exceeded"}


def response_events(chunks: AsyncIterator[bytes], frame: Response,
                    rename: Callable[[str | None], str | None] = lambda x: x
                    ) -> AsyncIterator[bytes]:
    """`chunks` (a chat stream) as Responses events. `rename`: a chat error's param as the
    Responses request names it. Closing this generator closes `chunks` (and with it the
    generation)."""
    return translated_events(chunks, ResponseEvents(frame), rename)


class ResponseEvents(StreamTranslator):
    """The events of one response, built from chat chunks as they come."""

    def __init__(self, frame: Response) -> None:
        super().__init__()
        self.frame = frame
        self.sequence = 0
        self.out = Output()

    def event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        return sse_event(kind, data)

    def start(self) -> bytes:
        return self.event("response.created", response=self.frame) + \
            self.event("response.in_progress", response=self.frame)

    def reasoning(self, delta: str) -> list[bytes]:
        index, item, new = self.out.reasoning()
        at = {"item_id": item.id, "output_index": index, "summary_index": 0}
        out: list[bytes] = []
        if new:  # added without its part: the part's own event follows
            out = self.begun(index, item)
            item.summary.append(SummaryText(text=""))
            out.append(self.event("response.reasoning_summary_part.added", **at,
                                  part=item.summary[0]))
        item.summary[0].text += delta
        out.append(self.event("response.reasoning_summary_text.delta", **at, delta=delta))
        return out

    def text(self, delta: str) -> list[bytes]:
        index, item, new = self.out.message()
        at = {"item_id": item.id, "output_index": index, "content_index": 0}
        out: list[bytes] = []
        if new:  # added without its part: the part's own event follows
            out = self.begun(index, item)
            item.content.append(OutputText(text=""))
            out.append(self.event("response.content_part.added", **at, part=item.content[0]))
        item.content[0].text += delta
        out.append(self.event("response.output_text.delta", **at, delta=delta, logprobs=[]))
        return out

    def call(self, call: p.DeltaToolCall) -> list[bytes]:
        """A call's first delta names it (its item is added); every piece of its arguments
        is a delta event."""
        fn = call.function
        index, item, new = self.out.call(call.index, call.id, fn.name if fn else None)
        out = self.begun(index, item) if new else []
        if fn is not None and fn.arguments:
            item.arguments += fn.arguments
            out.append(self.event("response.function_call_arguments.delta", item_id=item.id,
                                  output_index=index, delta=fn.arguments))
        return out

    def begun(self, index: int, item: OutputItem) -> list[bytes]:
        """A new item: the done events of the one before it (which it ended), then its added
        event."""
        out = [self.done(index - 1, self.out.items[index - 1])] if index else []
        out.append(self.event("response.output_item.added", output_index=index, item=item))
        return out

    def end(self) -> bytes:
        """The last item's done events (each one before it ended as the next began), then the
        final response."""
        assert self.finish is not None
        cut = self.finish == "length"
        self.out.close("incomplete" if cut else "completed")
        out = [self.done(len(self.out.items) - 1, self.out.items[-1])] if self.out.items else []
        final = finished(self.frame, self.out.items, self.finish, self.usage)
        out.append(self.event("response.incomplete" if cut else "response.completed",
                              response=final))
        return b"".join(out)

    def done(self, index: int, item: OutputItem) -> bytes:
        at = {"item_id": item.id, "output_index": index}
        if isinstance(item, ReasoningItem):
            summary = item.summary[0]
            head = self.event("response.reasoning_summary_text.done", **at, summary_index=0,
                              text=summary.text) + \
                self.event("response.reasoning_summary_part.done", **at, summary_index=0,
                           part=summary)
        elif isinstance(item, MessageItem):
            text = item.content[0]
            head = self.event("response.output_text.done", **at, content_index=0,
                              text=text.text, logprobs=[]) + \
                self.event("response.content_part.done", **at, content_index=0, part=text)
        else:
            head = self.event("response.function_call_arguments.done", **at,
                              name=item.name, arguments=item.arguments)
        return head + self.event("response.output_item.done", output_index=index, item=item)

    def failed(self, message: str, kind: str | None, param: str | None = None) -> bytes:
        """response.failed: what was streamed so far, and the error."""
        last = self.out.items[-1] if self.out.items else None
        if isinstance(last, MessageItem | FunctionCallItem):
            last.status = "incomplete"  # the item that never ended
        error = ResponseError(code=_ERROR_CODES.get(kind or "", "server_error"),
                              message=message, param=param, type=kind)
        final = msgspec.structs.replace(self.frame, status="failed", error=error,
                                        output=self.out.items, usage=response_usage(self.usage))
        return self.event("response.failed", response=final)
