"""The chat-completions path, one way: request → RequestContext → dialect (prompt, grammar
plan, parser; each step through its hook) → llama.cpp → parser → OpenAI shape."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from gateway import protocol as p
from gateway.backend import Backend
from gateway.backend.batches import event_batches, one_by_one
from gateway.backend.client import READ_WHOLE, UNSTREAMED
from gateway.cache import BoundedCache
from gateway.callgate import (
    CallGate,
    GatedParser,
    check_response_schema,
    check_tool_schemas,
    gate_output,
)
from gateway.chat_request import build_context, has_tools
from gateway.config import Settings
from gateway.dialect import (
    CallDecision,
    Delta,
    Dialect,
    GrammarPlan,
    OutputParser,
    ParsedOutput,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    assemble,
    request_plan,
)
from gateway.errors import GatewayError, bad_request
from gateway.grammar import GrammarLimits, SchemaError
from gateway.plugins import Plugins
from gateway.staged import staged_stream
from gateway.template_limits import RenderLeashExceeded, leashed
from gateway.templating import ChatTemplate, TemplateError, TemplateLimitError
from gateway.toolprior import request_text

log = logging.getLogger("gateway.chat")
_encode = msgspec.json.encode
# A request this small whose grammar plan is cached is prepared on the event loop, its
# render leashed to INLINE_LEASH seconds (see ChatService.prepare_async).
INLINE_BODY_BYTES = 32 * 1024
INLINE_LEASH = 0.1
MAX_LEASH_TRIPS = 3  # renders over the leash, however fast in a thread, before threads only


class _PlanNotCached(Exception):
    """prepare(inline=True) met a grammar plan to build: that goes to a worker thread."""


@dataclass
class Prepared:
    """One request made ready for llama.cpp: its data, prompt, budget and payload."""

    ctx: RequestContext
    payload: dict[str, Any]
    prompt: str
    budget_tokens: int | None = None  # see SchemaGrammars.budget_tokens
    decision: CallDecision | None = None  # generate call by call (gateway.staged)


class HookSchemaConverter:
    """JSON Schema -> GBNF through the gateway_schema_to_grammar hook (the built-in converter
    and its cache unless a plugin overrides it), with a converter's failure turned into a
    SchemaError the client sees as a 400."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def __call__(self, schema: Any, strict: bool, limits: GrammarLimits) -> str:
        try:
            grammar: str | None = self._hook.gateway_schema_to_grammar(
                schema=schema, strict=strict, limits=limits)
        except SchemaError:
            raise
        except Exception as exc:  # a converter bug: a clear 400 for this schema, not a 500
            log.exception("converting a JSON Schema to a grammar failed")
            raise SchemaError(f"the gateway could not convert it ({type(exc).__name__}); "
                              "see the gateway's log") from exc
        if grammar is None:
            raise bad_request("no plugin could convert this JSON Schema to a grammar")
        return grammar


@dataclass
class ChatService:
    plugins: Plugins
    backend: Backend
    template: ChatTemplate
    dialect: Dialect
    model_id: str
    settings: Settings = field(default_factory=Settings)
    stop_words: list[str] = field(default_factory=list)  # the template's end-of-turn markers
    slot_context: int = 0  # tokens of context per llama.cpp slot (0: unknown)
    # Same tools/tool_choice/response_format → same constraint: skip rebuilding it.
    _plans: BoundedCache[GrammarPlan] = field(default_factory=lambda: BoundedCache(256))
    on_plan: Callable[[bool, float], None] | None = None  # (cache hit, build seconds): metrics
    # Small requests are prepared on the event loop until renders go over their leash.
    inline_prepare: bool = True
    _leash_trips: int = 0

    _model: ServedModel | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def model(self) -> ServedModel:
        """What every request's dialect calls get beside the request: built again whenever
        the template, dialect or options were replaced after construction."""
        model, options = self._model, self.settings.dialect_options
        if model is None or model.template is not self.template or \
                model.dialect is not self.dialect or model.options is not options:
            model = self._model = ServedModel(self.template, self.dialect, options)
        return model

    async def prepare_async(self, req: p.ChatCompletionRequest, squeeze: int = 1, *,
                            small: bool = False) -> Prepared:
        """prepare() in a worker thread: rendering an untrusted chat template (bounded in
        time, see template_limits) and building grammars never hold the event loop.

        Except for a `small` request (a body under INLINE_BODY_BYTES) whose grammar plan is
        cached: handing it to a thread and back cost more than preparing it (~70 µs of CPU a
        request, and two thread wake-ups of latency), so it is prepared right here, its
        render leashed to INLINE_LEASH s. A render over the leash is redone in a thread; when
        it is slow there too (or after MAX_LEASH_TRIPS trips), every render goes to a thread
        from then on: a slow template holds the loop at most that many times, each for at
        most the leash plus the watchdog's tick (template_limits)."""
        if not (small and self.inline_prepare):
            return await asyncio.to_thread(self.prepare, req, squeeze)
        try:
            with leashed(INLINE_LEASH):
                return self.prepare(req, squeeze, inline=True)
        except _PlanNotCached:
            return await asyncio.to_thread(self.prepare, req, squeeze)
        except RenderLeashExceeded:
            self._leash_trips += 1
        # Over the leash: the template is slow, or the process was (a busy machine, a
        # garbage collection). Timed in a thread, the render tells which; a few trips of
        # either kind are enough.
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(self.prepare, req, squeeze)
        finally:
            if time.perf_counter() - started > INLINE_LEASH or \
                    self._leash_trips >= MAX_LEASH_TRIPS:
                self.inline_prepare = False
                log.warning("rendering a prompt took over %g s: prompts are rendered in "
                            "worker threads from now on", INLINE_LEASH)

    def prepare(self, req: p.ChatCompletionRequest, squeeze: int = 1, *,
                inline: bool = False) -> Prepared:
        """The request, top to bottom: checked into a RequestContext, rendered into a prompt,
        its token budget estimated, its grammar planned, the llama.cpp payload assembled.
        squeeze > 1 shapes the grammar for a budget that many times smaller (the retry of a
        required call that ran out of tokens). inline: stop with _PlanNotCached rather than
        build a grammar."""
        ctx = build_context(req, self.settings)
        model = self.model
        hook = self.plugins.hook
        try:
            prompt: str = hook.gateway_render_prompt(ctx=ctx, model=model)
            budget = self._budget(req, prompt)
            if budget is not None and squeeze > 1:
                budget = max(16, budget // squeeze)
            plan = self._plan(ctx, model, budget, inline)
        except SchemaError as exc:
            raise bad_request(f"cannot build a grammar for this request: {exc}",
                              param=_schema_param(ctx, exc), code="unsupported_schema") from exc
        except TemplateLimitError as exc:
            raise bad_request(f"the chat template could not render this conversation within "
                              f"its limits: {exc}", "messages", code="template_limit") from exc
        except TemplateError as exc:
            raise bad_request(f"the chat template refused this conversation: {exc}",
                              "messages", code="template_error") from exc
        plan = request_plan(plan, ctx, model)  # e.g. the generic dialect's quotes
        if plan.lazy and not plan.triggers:
            # llama.cpp would generate without any constraint: never let that through.
            raise GatewayError(f"dialect {self.dialect.name!r} built a lazy grammar without "
                               "triggers", 500, code="dialect_error")
        if plan.grammar and len(plan.grammar) > self.settings.grammar_limits.max_grammar_bytes:
            raise bad_request(f"the grammar for this request is {len(plan.grammar)} bytes, over "
                              f"the limit of {self.settings.grammar_limits.max_grammar_bytes}",
                              "tools", code="grammar_too_large")
        return Prepared(ctx, self._payload(req, prompt, plan), prompt, budget, plan.decision)

    def _plan(self, ctx: RequestContext, model: ServedModel, budget: int | None,
              inline: bool = False) -> GrammarPlan:
        """The request's constraint, from the dialect (through the tools-grammar hook), or
        the cached one for the same tools, tool_choice, response_format and budget."""
        plan_key = ctx.tools_key + str(budget).encode()
        plan = self._plans.get(plan_key)
        if plan is not None:  # a cached plan means these tools were already checked
            if self.on_plan and plan.grammar:
                self.on_plan(True, 0.0)
            return plan
        if inline:
            raise _PlanNotCached()
        started = time.perf_counter()
        check_tool_schemas(ctx.tools)
        check_response_schema(ctx.response_schema)
        grammars = SchemaGrammars(HookSchemaConverter(self.plugins.hook),
                                  budget_limits(self.settings.grammar_limits, budget), budget)
        plan = self.plugins.hook.gateway_tools_grammar(
            ctx=ctx, model=model, grammars=grammars) or GrammarPlan()
        self._plans.put(plan_key, plan)
        if self.on_plan and plan.grammar:
            self.on_plan(False, time.perf_counter() - started)
        return plan

    def _parser(self, ctx: RequestContext) -> OutputParser:
        """A fresh parser for the request's output: a plugin's (create-parser hook) or the
        dialect's."""
        parser: OutputParser = self.plugins.hook.gateway_create_parser(ctx=ctx, model=self.model)
        return parser

    def _parse(self, ctx: RequestContext, text: str, deltas: list[Delta] | None = None
               ) -> ParsedOutput:
        """A whole generation parsed: by a plugin's parse-output hook, else by the request's
        parser over all of it (so streamed and non-streamed results are the same). `deltas`:
        what a parser of this request gave for exactly this text fed piece by piece, which
        assembles to the same result (the dialect conformance suite checks that), so the text
        is not parsed a second time."""
        hook = self.plugins.hook.gateway_parse_output
        # no plugin parses whole generations (the usual case): no hook call to get None
        parsed: ParsedOutput | None = hook(ctx=ctx, model=self.model, text=text) \
            if hook.get_hookimpls() else None
        if parsed is None:
            if deltas is None:
                parser = self._parser(ctx)
                deltas = parser.feed(text) + parser.finish()
            parsed = assemble(deltas)
        return parsed

    def _budget(self, req: p.ChatCompletionRequest, prompt: str) -> int | None:
        """Tokens the answer may take: max_tokens, capped by what the slot's context leaves
        (the prompt estimated at 3 characters a token; exact counting would cost a round
        trip to /tokenize). Rounded down to a power of two, so the grammar cache is shared
        by budgets that shape the grammar alike."""
        if not has_tools(req) and req.response_format is None:
            return None
        known = [x for x in (req.max_completion_tokens or req.max_tokens,
                             self.slot_context - len(prompt) // 3 if self.slot_context else None)
                 if x is not None]
        if not known:
            return None
        budget = max(1, min(known))
        return 1 << (budget.bit_length() - 1) if budget > 32 else budget

    def _payload(self, req: p.ChatCompletionRequest, prompt: str, plan: GrammarPlan
                 ) -> dict[str, Any]:
        stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        payload: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": req.max_completion_tokens or req.max_tokens or -1,
            "stop": list(dict.fromkeys(stops + plan.stop + self.stop_words)),
            "cache_prompt": True,
        }
        for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty",
                     "top_k", "min_p", "repeat_penalty"):
            value = getattr(req, name)
            if value is not None:
                payload[name] = value
        if plan.grammar:
            payload["grammar"] = plan.grammar
            if plan.lazy:
                payload["grammar_lazy"] = True
                payload["grammar_triggers"] = plan.triggers
            if plan.preserved_tokens:
                payload["preserved_tokens"] = plan.preserved_tokens
        return payload

    # -- non-streaming ----------------------------------------------------------------------
    async def complete(self, req: p.ChatCompletionRequest, *, small: bool = False
                       ) -> p.ChatCompletion:
        """small: see prepare_async."""
        prep = await self.prepare_async(req, small=small)
        result, parsed, gate = await self._attempt(prep)
        if _retry_wanted(prep, parsed, result):
            # A required call ran out of tokens (the model looped in a free part): once more
            # with a grammar shaped for a much smaller budget; the prompt is cached.
            log.info("required call cut off by max_tokens; retrying with a tighter grammar")
            spent = result.get("tokens_predicted") or 0
            prep = await self.prepare_async(req, squeeze=RETRY_SQUEEZE)
            result, parsed, gate = await self._attempt(prep)
            result["tokens_predicted"] = (result.get("tokens_predicted") or 0) + spent
        text = result.get("content", "")
        finish = _finish_reason(result)
        if parsed.tool_calls and finish != "length":
            finish = "tool_calls"
        stop = _client_stop(req, result) if finish == "stop" else UNSET
        calls = [p.OutToolCall(id=c.id, function=p.OutFunction(name=c.name, arguments=c.arguments))
                 for c in parsed.tool_calls] or None
        if gate.rejected and not calls and not parsed.content:
            # nothing passed the gate: the raw text, so nothing the model wrote is lost
            parsed.content = text
        message = p.OutMessage(content=parsed.content if parsed.content is not None or calls
                               else "", tool_calls=calls, reasoning_content=parsed.reasoning)
        return p.ChatCompletion(
            id=_completion_id(), created=int(time.time()), model=self.model_id,
            choices=[p.Choice(index=0, message=message, finish_reason=finish, stop_reason=stop)],
            usage=_usage(result))

    async def _attempt(self, prep: Prepared) -> tuple[dict[str, Any], ParsedOutput, CallGate]:
        """One generation, parsed and gated. Through llama.cpp's streaming endpoint: closing
        that stream is what stops llama.cpp when the client has gone away (seen: a
        non-streamed /completion kept decoding after its connection was closed, measured
        again with the xllamacpp wheel of 2026-10). Without tools it is read whole (see
        _whole)."""
        result, looped, deltas = await self._generate_watching(prep)
        gate = CallGate(prep.ctx.tools, _request(prep.ctx))
        parsed = gate_output(self._parse(prep.ctx, result.get("content", ""), deltas), gate,
                             complete=_finish_reason(result) != "length" and not looped)
        return result, parsed, gate

    def _whole(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload of a generation wanted whole (nothing watched while it runs). Still
        streamed by llama.cpp (READ_WHOLE: one read at its end) so that the client's hang-up
        stops it; asked non-streamed (UNSTREAMED) when its n_predict is at most
        `unstreamed_max_tokens`: llama.cpp's per-token streaming is then saved, and a hang-up
        costs at most those tokens of decoding."""
        n_predict, bound = payload.get("n_predict", -1), self.settings.unstreamed_max_tokens
        if isinstance(n_predict, int) and 0 < n_predict <= bound:
            return {**payload, UNSTREAMED: True}
        return {**payload, READ_WHOLE: True}

    async def _run(self, run: _Run) -> AsyncIterator[list[Delta]]:
        """Stream one generation through the gated parser, stopping at a repeated call. The
        deltas come in lists, one per batch of events (those one read of the backend
        brought), so the steps above run once per read; each event is still fed on its own
        and the repeat check still stops right after the event that repeated a call."""
        inner = self._parser(run.prep.ctx)
        if run.record is not None:
            inner = _Recording(inner, run.record)
        run.parser = parser = GatedParser(
            inner, CallGate(run.prep.ctx.tools, _request(run.prep.ctx)))
        gate, raw = parser.gate, run.raw
        # Without tools no call passes the gate, so none repeats: a non-streamed answer's
        # batch is fed whole (streamed, each event stays a chunk of its own).
        whole = run.record is not None and not run.prep.ctx.tools
        decision = run.prep.decision
        # Fed whole, the answer is read whole too: the gateway does not wake for each token
        # (on a machine whose cores llama.cpp fills, each wake-up slowed its decoding).
        batches = (one_by_one(staged_stream(self.backend, run.prep.payload, decision))
                   if decision else event_batches(self.backend, self._whole(run.prep.payload)
                                                  if whole else run.prep.payload))
        try:
            async for batch in batches:
                if whole:
                    run.last = batch[-1]
                    texts = [event.get("content", "") for event in batch]
                    raw += texts
                    out = parser.feed("".join(texts))
                else:
                    out = []
                    for event in batch:
                        run.last = event
                        text = event.get("content", "")
                        raw.append(text)
                        out += parser.feed(text)
                        if gate.looping:
                            break
                if out:
                    yield out
                if gate.looping:
                    break  # the model repeats a call: stop generating (see complete())
        finally:
            await batches.aclose()  # closes the connection: llama.cpp stops generating
        if gate.looping:
            run.last = {**run.last, "tokens_predicted": len(raw)}
        cut = _finish_reason(run.last) == "length" and not gate.looping
        tail = parser.finish(complete=not cut)
        if tail:
            yield tail

    async def _generate_watching(self, prep: Prepared
                                 ) -> tuple[dict[str, Any], bool, list[Delta]]:
        """Generate through the streaming endpoint, watching the calls as they form: when the
        model writes a call it already wrote, it is looping — stop there instead of paying
        for the rest of max_tokens. Returns the final event (content = all text), whether
        it was cut for a loop, and the dialect parser's deltas for that text."""
        run = _Run(prep, record=[])
        async for _ in self._run(run):
            pass
        result = {**run.last, "content": "".join(run.raw)}
        if run.parser.gate.looping:
            result["stop_type"] = "loop"
        assert run.record is not None
        return result, run.parser.gate.looping, run.record

    # -- streaming --------------------------------------------------------------------------
    async def stream(self, req: p.ChatCompletionRequest, *, small: bool = False
                     ) -> AsyncIterator[bytes]:
        """Prepares first (so request errors are a plain 400), then yields SSE lines (small:
        see prepare_async)."""
        prep = await self.prepare_async(req, small=small)
        return self._events(req, prep)

    async def _events(self, req: p.ChatCompletionRequest, prep: Prepared) -> AsyncIterator[bytes]:
        sse = SseChunks(_completion_id(), int(time.time()), self.model_id)
        # The first chunk, the role, goes out with the chunk after it (the first tokens, an
        # error or the end), not alone before llama.cpp answers: the same chunks in the same
        # order, one write less per stream (the headers are sent at once all the same).
        head = sse.delta(p.ChunkDelta(role="assistant", content=""))
        run = _Run(prep)
        try:
            async for deltas in self._run(run):
                yield head + sse.deltas(deltas)
                head = b""
            if run.retry_wanted():  # see complete(): nothing went out yet, so try once more
                log.info("required call cut off by max_tokens; retrying with a tighter grammar")
                spent = run.last.get("tokens_predicted") or 0
                run = _Run(await self.prepare_async(req, squeeze=RETRY_SQUEEZE))
                async for deltas in self._run(run):
                    yield head + sse.deltas(deltas)
                    head = b""
                run.last["tokens_predicted"] = (run.last.get("tokens_predicted") or 0) + spent
            parser = run.parser
            if parser.gate.rejected and not parser.released and not parser.text_out:
                yield head + sse.delta(p.ChunkDelta(content="".join(run.raw)))
                head = b""
        except Exception as exc:  # the stream has begun: an error event, never a cut stream
            if isinstance(exc, GatewayError):
                log.warning("stream failed: %s", exc.message)
                err = exc
            else:
                log.exception("stream failed")
                err = GatewayError("internal error in the gateway while streaming; see its "
                                   "log", 500)
            yield head + b"data: " + _encode(err.body()) + b"\n\n"
            yield b"data: [DONE]\n\n"
            return
        last = run.last
        finish = _finish_reason(last)
        if parser.released and finish != "length":
            finish = "tool_calls"
        stop = _client_stop(req, last) if finish == "stop" else UNSET
        yield head + sse.chunk(p.ChunkDelta(), finish, stop)
        if req.stream_options is not None and req.stream_options.include_usage:
            yield sse.usage(_usage(last))
        yield b"data: [DONE]\n\n"


class SseChunks:
    """The SSE lines of one streamed answer, as `p.ChatCompletionChunk` encodes them; the parts
    that never change within the answer (id, created, model, the choice's frame) are encoded
    once, and a delta's line is those bytes around the delta's own."""

    def __init__(self, cid: str, created: int, model: str) -> None:
        self.cid, self.created, self.model = cid, created, model
        frame = _encode(p.ChatCompletionChunk(id=cid, created=created, model=model,
                                              choices=[]))
        cut = frame.rindex(b'"choices":[]') + len(b'"choices":[')
        self._head = b"data: " + frame[:cut] + b'{"index":0,"delta":'
        self._tail = b',"finish_reason":null,"logprobs":null}' + frame[cut:] + b"\n\n"

    def delta(self, delta: p.ChunkDelta) -> bytes:
        return self._head + _encode(delta) + self._tail

    def deltas(self, deltas: list[Delta]) -> bytes:
        head, tail = self._head, self._tail
        out: list[bytes] = []
        for d in deltas:
            if d.kind == "content":  # the common case, without building the structs
                out += (head, b'{"content":', _encode(d.text), b"}", tail)
            else:
                out += (head, _encode(_delta(d)), tail)
        return b"".join(out)

    def chunk(self, delta: p.ChunkDelta, finish: str | None = None,
              stop: str | UnsetType = UNSET) -> bytes:
        c = p.ChatCompletionChunk(id=self.cid, created=self.created, model=self.model,
                                  choices=[p.ChunkChoice(index=0, delta=delta,
                                                         finish_reason=finish,
                                                         stop_reason=stop)])
        return b"data: " + _encode(c) + b"\n\n"

    def usage(self, usage: p.Usage) -> bytes:
        c = p.ChatCompletionChunk(id=self.cid, created=self.created, model=self.model,
                                  choices=[], usage=usage)
        return b"data: " + _encode(c) + b"\n\n"


class _Recording:
    """A dialect's parser that keeps every delta it gives (see ChatService._parse)."""

    __slots__ = ("inner", "deltas")

    def __init__(self, inner: OutputParser, deltas: list[Delta]) -> None:
        self.inner, self.deltas = inner, deltas

    def feed(self, text: str) -> list[Delta]:
        out = self.inner.feed(text)
        self.deltas += out
        return out

    def finish(self) -> list[Delta]:
        out = self.inner.finish()
        self.deltas += out
        return out


RETRY_SQUEEZE = 8


@dataclass
class _Run:
    """One streamed generation: its request, parser, text and last llama.cpp event."""

    prep: Prepared
    parser: GatedParser = field(init=False)
    last: dict[str, Any] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)
    record: list[Delta] | None = None  # the dialect parser's deltas, kept when a list

    def retry_wanted(self) -> bool:
        p = self.parser
        return (self.prep.ctx.tool_choice in ("required", "named") and not p.released
                and not p.text_out and _finish_reason(self.last) == "length"
                and self.prep.budget_tokens is not None)


def _retry_wanted(prep: Prepared, parsed: ParsedOutput, result: dict[str, Any]) -> bool:
    return (prep.ctx.tool_choice in ("required", "named") and not parsed.tool_calls
            and _finish_reason(result) == "length" and prep.budget_tokens is not None)


def budget_limits(limits: GrammarLimits, budget: int | None) -> GrammarLimits:
    """Bounds for the free parts of schemas, from the answer's token budget: a free string
    may take at most a quarter of it in characters, a free array a few items, so a model looping
    inside one still closes the call before max_tokens."""
    if budget is None:
        return limits
    return replace(limits, max_free_string=max(12, min(1000, budget // 4)),
                   max_free_items=max(2, min(64, budget // 64)))


def _delta(d: Delta) -> p.ChunkDelta:
    if d.kind == "content":
        return p.ChunkDelta(content=d.text)
    if d.kind == "reasoning":
        return p.ChunkDelta(reasoning_content=d.text)
    if d.kind == "tool_start":
        return p.ChunkDelta(tool_calls=[p.DeltaToolCall(
            index=d.index, id=d.id, type="function",
            function=p.DeltaFunction(name=d.name, arguments=d.text))])
    return p.ChunkDelta(tool_calls=[p.DeltaToolCall(
        index=d.index, function=p.DeltaFunction(arguments=d.text))])


def _completion_id() -> str:
    """chatcmpl- and 24 random hex digits: unique, not secret (the process's own generator,
    seeded from the OS and reseeded in a forked child; no system call per id)."""
    return f"chatcmpl-{random.getrandbits(96):024x}"


def _finish_reason(result: dict[str, Any]) -> str:
    return "length" if result.get("stop_type") == "limit" else "stop"


def _client_stop(req: p.ChatCompletionRequest, result: dict[str, Any]) -> str | UnsetType:
    """The request's own stop sequence that ended the generation (llama.cpp's stopping_word;
    the template's end-of-turn words are stop words too, and are not the client's)."""
    word = result.get("stopping_word")
    if result.get("stop_type") != "word" or not word:
        return UNSET
    stops = [req.stop] if isinstance(req.stop, str) else req.stop or []
    return word if word in stops else UNSET


def _usage(result: dict[str, Any]) -> p.Usage:
    prompt = int(result.get("tokens_evaluated") or 0)
    completion = int(result.get("tokens_predicted") or 0)
    return p.Usage(prompt_tokens=prompt, completion_tokens=completion,
                   total_tokens=prompt + completion)


def _schema_param(ctx: RequestContext, exc: SchemaError) -> str | None:
    return "response_format.json_schema.schema" if ctx.response_schema is not None and \
        not ctx.tools else "tools"


def _request(ctx: RequestContext) -> str:
    """The user's last message, for the gate (string arguments keep its spacing)."""
    return request_text(ctx.messages) if ctx.tools else ""
