"""What the API translations over the chat pipeline share (the Responses API, Anthropic's
Messages API): a translated request that knows where each chat field came from, so that an
error the chat checks raise names the client's own field; the chat stream read back as
payloads; and the loop that turns those payloads into another API's SSE events, which
always ends with an event (the end, or the error), never a cut stream."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from gateway import protocol as p
from gateway.chat import ChatService
from gateway.errors import GatewayError, from_decode_error

log = logging.getLogger("gateway.translation")
_encode = msgspec.json.encode
_TOOL_PARAM = re.compile(r"tools\[(\d+)\]\.function(\..+)?")
_MESSAGE_PARAM = re.compile(r"messages\[(\d+)\](?:\.tool_calls\[(\d+)\](?:\.function)?)?(.*)")


@dataclass(kw_only=True)
class Translation:
    """A chat request translated from another API's request, and where each of its messages,
    calls and tools came from there. A subclass names the chat fields the other API spells
    differently (RENAMED: whole fields; FIELDS: within a message's, call's or tool's)."""

    chat: p.ChatCompletionRequest
    where: list[str] = field(default_factory=list)  # per chat message
    calls: dict[tuple[int, int], str] = field(default_factory=dict)  # (message, call) -> where
    tools: list[int] = field(default_factory=list)  # per chat tool: its index in `tools`

    RENAMED: ClassVar[Mapping[str, str]] = {}
    FIELDS: ClassVar[Mapping[str, str]] = {}

    def param(self, param: str | None) -> str | None:
        """A chat request's field name as the other API's request spells it."""
        if param is None:
            return param
        if param in self.RENAMED:
            return self.RENAMED[param]
        tool = _TOOL_PARAM.fullmatch(param)
        if tool and int(tool[1]) < len(self.tools):
            return f"tools[{self.tools[int(tool[1])]}]{self._field(tool[2] or '')}"
        msg = _MESSAGE_PARAM.fullmatch(param)
        if msg is None or int(msg[1]) >= len(self.where):
            return param
        base = self.where[int(msg[1])]
        if msg[2] is not None:
            base = self.calls.get((int(msg[1]), int(msg[2])), base)
        return base + self._field(msg[3]) if base.endswith("]") else base

    def _field(self, rest: str) -> str:
        for chat_name, name in self.FIELDS.items():
            rest = rest.replace(chat_name, name)
        return rest

    @contextmanager
    def renamed_errors(self) -> Iterator[None]:
        """A 400 the chat checks raise names the other API's field."""
        try:
            yield
        except GatewayError as exc:
            exc.param = self.param(exc.param)
            raise


class TranslatedService:
    """Another API over a chat service: one translated chat request per answer. A subclass
    builds its answer from the chat completion (`answer`) and its events from the chat
    stream (`events`)."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def complete(self, tr: Any, *, small: bool = False) -> Any:
        """small: a small request body, see ChatService.prepare_async."""
        with tr.renamed_errors():
            completion = await self.chat.complete(tr.chat, small=small)
        return self.answer(tr, completion)

    async def stream(self, tr: Any, *, small: bool = False) -> AsyncIterator[bytes]:
        """Prepares first (a request error is a plain 400), then yields the API's events."""
        with tr.renamed_errors():
            chunks = await self.chat.stream(tr.chat, small=small)
        return self.events(tr, chunks)

    def answer(self, tr: Any, completion: p.ChatCompletion) -> Any:
        raise NotImplementedError

    def events(self, tr: Any, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        raise NotImplementedError


Part = TypeVar("Part")


def content_text(content: Any, at: str, parts: type[list[Part]],
                 text: Callable[[Part, str], str], sep: str = "") -> str:
    """A content field's text: a string, or its parts (decoded as `parts`) each as `text`
    reads it (refusing a part that is not text), joined by `sep`. `at`: the field's name,
    that of part j is `at[j]`."""
    if isinstance(content, str):
        return content
    try:
        given = msgspec.convert(content, parts)
    except msgspec.ValidationError as exc:
        raise from_decode_error(exc, at) from exc
    return sep.join(text(x, f"{at}[{j}]") for j, x in enumerate(given))


# -- the chat stream, read back ---------------------------------------------------------------

class ChatEvent(msgspec.Struct, kw_only=True):
    """One chat SSE payload: a chunk, the usage chunk, or an error."""
    choices: list[p.ChunkChoice] = msgspec.field(default_factory=list)
    usage: p.Usage | None = None
    error: dict[str, Any] | None = None


_chat_decoder = msgspec.json.Decoder(ChatEvent)


async def chat_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ChatEvent]:
    """The chat stream's payloads up to `[DONE]`, however its bytes were split."""
    pending = b""
    async for data in chunks:
        pending += data
        *blocks, pending = pending.split(b"\n\n")
        for block in blocks:
            for line in block.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    return
                yield _chat_decoder.decode(payload)


def sse_event(kind: str, data: Any) -> bytes:
    """`event: KIND` and its JSON `data:` line."""
    return b"event: " + kind.encode() + b"\ndata: " + _encode(data) + b"\n\n"


class StreamTranslator:
    """The events of one translated answer, built from chat chunks as they come: a subclass
    gives the events of the start, of each delta (reasoning, text, a piece of a call), of
    the end and of a failure. Reads the finish reason, the client's stop sequence that
    ended the answer, and the usage on the way."""

    def __init__(self) -> None:
        self.finish: str | None = None
        self.stop_sequence: str | UnsetType = UNSET
        self.usage: p.Usage | None = None

    def chunk(self, event: ChatEvent) -> bytes:
        if event.usage is not None:
            self.usage = event.usage
        out: list[bytes] = []
        for choice in event.choices:
            delta = choice.delta
            if delta.reasoning_content:
                out += self.reasoning(delta.reasoning_content)
            if delta.content:
                out += self.text(delta.content)
            for call in delta.tool_calls or []:
                out += self.call(call)
            if choice.finish_reason is not None:
                self.finish, self.stop_sequence = choice.finish_reason, choice.stop_reason
        return b"".join(out)

    def start(self) -> bytes:
        raise NotImplementedError

    def reasoning(self, delta: str) -> list[bytes]:
        raise NotImplementedError

    def text(self, delta: str) -> list[bytes]:
        raise NotImplementedError

    def call(self, call: p.DeltaToolCall) -> list[bytes]:
        raise NotImplementedError

    def end(self) -> bytes:
        """After the chat stream's finish reason: the last events."""
        raise NotImplementedError

    def failed(self, message: str, kind: str | None, param: str | None = None) -> bytes:
        """The error event; `kind`: the chat error's type."""
        raise NotImplementedError


async def translated_events(chunks: AsyncIterator[bytes], events: StreamTranslator,
                            rename: Callable[[str | None], str | None] = lambda x: x
                            ) -> AsyncIterator[bytes]:
    """`chunks` (a chat stream) as `events` builds them. `rename`: a chat error's param as
    the other API names it. Closing this generator closes `chunks` (and with it the
    generation)."""
    try:
        yield events.start()
        async for event in chat_events(chunks):
            if event.error is not None:
                error = event.error
                yield events.failed(error.get("message") or "the answer failed",
                                    error.get("type"), rename(error.get("param")))
                return
            out = events.chunk(event)
            if out:
                yield out
        yield events.end() if events.finish is not None else events.failed(
            "the answer ended before it was complete", "server_error")
    except Exception:  # the stream has begun: an event saying so, never a cut stream
        log.exception("translating a chat stream failed")
        yield events.failed("internal error in the gateway while streaming; see its log",
                            "server_error")
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
