"""The chat-completions path, one way: request → RequestContext → dialect (prompt, grammar
plan, parser; each step through its hook) → llama.cpp → parser → OpenAI shape."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from gateway import protocol as p
from gateway.backend import Backend
from gateway.cache import BoundedCache
from gateway.callgate import (
    CallGate,
    GatedParser,
    check_response_schema,
    check_tool_schemas,
    gate_output,
)
from gateway.chat_request import build_context
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
    new_call_id,
    request_plan,
)
from gateway.errors import GatewayError, bad_request
from gateway.grammar import GrammarLimits, SchemaError
from gateway.plugins import Plugins
from gateway.staged import staged_stream
from gateway.templating import ChatTemplate, TemplateError, TemplateLimitError

log = logging.getLogger("gateway.chat")
_encode = msgspec.json.encode


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

    @property
    def model(self) -> ServedModel:
        """What every request's dialect calls get beside the request (built per call: cheap,
        and the template, dialect or options may be replaced after construction)."""
        return ServedModel(self.template, self.dialect, self.settings.dialect_options)

    async def prepare_async(self, req: p.ChatCompletionRequest, squeeze: int = 1) -> Prepared:
        """prepare() in a worker thread: rendering an untrusted chat template (bounded in
        time, see template_limits) and building grammars never hold the event loop."""
        return await asyncio.to_thread(self.prepare, req, squeeze)

    def prepare(self, req: p.ChatCompletionRequest, squeeze: int = 1) -> Prepared:
        """The request, top to bottom: checked into a RequestContext, rendered into a prompt,
        its token budget estimated, its grammar planned, the llama.cpp payload assembled.
        squeeze > 1 shapes the grammar for a budget that many times smaller (the retry of a
        required call that ran out of tokens)."""
        ctx = build_context(req, self.settings)
        model = self.model
        hook = self.plugins.hook
        try:
            prompt: str = hook.gateway_render_prompt(ctx=ctx, model=model)
            budget = self._budget(req, prompt)
            if budget is not None and squeeze > 1:
                budget = max(16, budget // squeeze)
            plan = self._plan(ctx, model, budget)
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

    def _plan(self, ctx: RequestContext, model: ServedModel, budget: int | None
              ) -> GrammarPlan:
        """The request's constraint, from the dialect (through the tools-grammar hook), or
        the cached one for the same tools, tool_choice, response_format and budget."""
        plan_key = ctx.tools_key + str(budget).encode()
        plan = self._plans.get(plan_key)
        if plan is not None:  # a cached plan means these tools were already checked
            if self.on_plan and plan.grammar:
                self.on_plan(True, 0.0)
            return plan
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

    def _parse(self, ctx: RequestContext, text: str) -> ParsedOutput:
        """A whole generation parsed: by a plugin's parse-output hook, else by the request's
        parser over all of it (so streamed and non-streamed results are the same)."""
        parsed: ParsedOutput | None = self.plugins.hook.gateway_parse_output(
            ctx=ctx, model=self.model, text=text)
        if parsed is None:
            parser = self._parser(ctx)
            parsed = assemble(parser.feed(text) + parser.finish())
        return parsed

    def _budget(self, req: p.ChatCompletionRequest, prompt: str) -> int | None:
        """Tokens the answer may take: max_tokens, capped by what the slot's context leaves
        (the prompt estimated at 3 characters a token; exact counting would cost a round
        trip to /tokenize). Rounded down to a power of two, so the grammar cache is shared
        by budgets that shape the grammar alike."""
        if not req.tools and req.response_format is None:
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
    async def complete(self, req: p.ChatCompletionRequest) -> p.ChatCompletion:
        prep = await self.prepare_async(req)
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
        calls = [p.OutToolCall(id=c.id, function=p.OutFunction(name=c.name, arguments=c.arguments))
                 for c in parsed.tool_calls] or None
        if gate.rejected and not calls and not parsed.content:
            # nothing passed the gate: the raw text, so nothing the model wrote is lost
            parsed.content = text
        message = p.OutMessage(content=parsed.content if parsed.content is not None or calls
                               else "", tool_calls=calls, reasoning_content=parsed.reasoning)
        return p.ChatCompletion(
            id="chatcmpl-" + new_call_id("", 24), created=int(time.time()), model=self.model_id,
            choices=[p.Choice(index=0, message=message, finish_reason=finish)],
            usage=_usage(result))

    async def _attempt(self, prep: Prepared) -> tuple[dict[str, Any], ParsedOutput, CallGate]:
        """One generation, parsed and gated. Always through llama.cpp's streaming endpoint:
        closing that stream is what stops llama.cpp when the client has gone away (seen: a
        non-streamed /completion kept decoding after its connection was closed)."""
        result, looped = await self._generate_watching(prep)
        gate = CallGate(prep.ctx.tools)
        parsed = gate_output(self._parse(prep.ctx, result.get("content", "")), gate,
                             complete=_finish_reason(result) != "length" and not looped)
        return result, parsed, gate

    async def _run(self, run: _Run) -> AsyncIterator[Delta]:
        """Stream one generation through the gated parser, stopping at a repeated call."""
        run.parser = GatedParser(self._parser(run.prep.ctx), CallGate(run.prep.ctx.tools))
        parser = run.parser
        decision = run.prep.decision
        events = (staged_stream(self.backend, run.prep.payload, decision) if decision
                  else self.backend.stream(run.prep.payload))
        try:
            async for event in events:
                run.last = event
                run.raw.append(event.get("content", ""))
                for d in parser.feed(run.raw[-1]):
                    yield d
                if parser.gate.looping:
                    break  # the model repeats a call: stop generating (see complete())
        finally:
            await events.aclose()  # closes the connection: llama.cpp stops generating
        if parser.gate.looping:
            run.last = {**run.last, "tokens_predicted": len(run.raw)}
        cut = _finish_reason(run.last) == "length" and not parser.gate.looping
        for d in parser.finish(complete=not cut):
            yield d

    async def _generate_watching(self, prep: Prepared) -> tuple[dict[str, Any], bool]:
        """Generate through the streaming endpoint, watching the calls as they form: when the
        model writes a call it already wrote, it is looping — stop there instead of paying
        for the rest of max_tokens. Returns the final event (content = all text) and whether
        it was cut for a loop."""
        run = _Run(prep)
        async for _ in self._run(run):
            pass  # the whole text is parsed once more through the parse-output hook
        result = {**run.last, "content": "".join(run.raw)}
        if run.parser.gate.looping:
            result["stop_type"] = "loop"
        return result, run.parser.gate.looping

    # -- streaming --------------------------------------------------------------------------
    async def stream(self, req: p.ChatCompletionRequest) -> AsyncIterator[bytes]:
        """Prepares first (so request errors are a plain 400), then yields SSE lines."""
        prep = await self.prepare_async(req)
        return self._events(req, prep)

    async def _events(self, req: p.ChatCompletionRequest, prep: Prepared) -> AsyncIterator[bytes]:
        cid = "chatcmpl-" + new_call_id("", 24)
        created = int(time.time())

        def chunk(delta: p.ChunkDelta, finish: str | None = None) -> bytes:
            c = p.ChatCompletionChunk(id=cid, created=created, model=self.model_id,
                                      choices=[p.ChunkChoice(index=0, delta=delta,
                                                             finish_reason=finish)])
            return b"data: " + _encode(c) + b"\n\n"

        yield chunk(p.ChunkDelta(role="assistant", content=""))
        run = _Run(prep)
        try:
            async for d in self._run(run):
                yield chunk(_delta(d))
            if run.retry_wanted():  # see complete(): nothing went out yet, so try once more
                log.info("required call cut off by max_tokens; retrying with a tighter grammar")
                spent = run.last.get("tokens_predicted") or 0
                run = _Run(await self.prepare_async(req, squeeze=RETRY_SQUEEZE))
                async for d in self._run(run):
                    yield chunk(_delta(d))
                run.last["tokens_predicted"] = (run.last.get("tokens_predicted") or 0) + spent
            parser = run.parser
            if parser.gate.rejected and not parser.released and not parser.text_out:
                yield chunk(p.ChunkDelta(content="".join(run.raw)))
        except Exception as exc:  # the stream has begun: an error event, never a cut stream
            if isinstance(exc, GatewayError):
                log.warning("stream failed: %s", exc.message)
                err = exc
            else:
                log.exception("stream failed")
                err = GatewayError("internal error in the gateway while streaming; see its "
                                   "log", 500)
            yield b"data: " + _encode(err.body()) + b"\n\n"
            yield b"data: [DONE]\n\n"
            return
        last = run.last
        finish = _finish_reason(last)
        if parser.released and finish != "length":
            finish = "tool_calls"
        yield chunk(p.ChunkDelta(), finish)
        if req.stream_options is not None and req.stream_options.include_usage:
            usage = p.ChatCompletionChunk(id=cid, created=created, model=self.model_id,
                                          choices=[], usage=_usage(last))
            yield b"data: " + _encode(usage) + b"\n\n"
        yield b"data: [DONE]\n\n"


RETRY_SQUEEZE = 8


@dataclass
class _Run:
    """One streamed generation: its request, parser, text and last llama.cpp event."""

    prep: Prepared
    parser: GatedParser = field(init=False)
    last: dict[str, Any] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)

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


def _finish_reason(result: dict[str, Any]) -> str:
    return "length" if result.get("stop_type") == "limit" else "stop"


def _usage(result: dict[str, Any]) -> p.Usage:
    prompt = int(result.get("tokens_evaluated") or 0)
    completion = int(result.get("tokens_predicted") or 0)
    return p.Usage(prompt_tokens=prompt, completion_tokens=completion,
                   total_tokens=prompt + completion)


def _schema_param(ctx: RequestContext, exc: SchemaError) -> str | None:
    return "response_format.json_schema.schema" if ctx.response_schema is not None and \
        not ctx.tools else "tools"
