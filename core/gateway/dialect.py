"""What a dialect is: how one family of models is prompted for tools, constrained and parsed.

A dialect hands the core roughly what llama.cpp itself uses for chat: the prompt, a GBNF
grammar (optionally lazy, with triggers and preserved tokens) and extra stop words; and it
parses the generated text back into content, reasoning and tool calls, incrementally.

One request flows one way. The core checks the client's request into a `RequestContext`
(plain data) and hands it, with the `ServedModel` (template, dialect and options, fixed at
start-up), to the dialect: `render_prompt` gives the prompt; `tools_grammar`, also given a
`SchemaGrammars` (the schema converter and the answer's token budget), gives the
`GrammarPlan`; `create_parser` gives the parser the generated text is fed through. A dialect
gets everything it needs as arguments and never calls back into the core.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Literal, Protocol

from gateway.dialect_options import DialectOption
from gateway.grammar import GrammarLimits
from gateway.templating import ChatTemplate
from gateway.toolprior import (
    conversation_text,
    prior,
    request_text,
    tool_scores,
)

ToolChoiceMode = Literal["auto", "none", "required", "named"]


class TriggerType(IntEnum):
    """llama.cpp's common_grammar_trigger_type (sent as an int)."""

    TOKEN = 0
    WORD = 1
    PATTERN = 2
    PATTERN_FULL = 3


def word_trigger(word: str) -> dict[str, Any]:
    """A lazy-grammar trigger on a word; a one-token word must also be a preserved token."""
    return {"type": int(TriggerType.WORD), "value": word}


@dataclass(frozen=True, slots=True)
class ToolDef:
    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool = False  # strict: unenforceable schema keywords are refused, not dropped

    def openai(self) -> dict[str, Any]:
        """The OpenAI tool dict, as HF chat templates expect it."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True)
class CallDecision:
    """Generate a call list call by call, so that "one more call?" is decided on the model's
    probability of going on, read at a clean token boundary, not by a greedy token that
    often merges the decision with the closing braces before it (`}},` against `}}]`).

    The first part is constrained by `first` (the output up to the end of the first call).
    After each call the next token's top probabilities are read: the mass of tokens starting
    (after whitespace) with one of `more_marks` against those starting with one of
    `end_marks`. At or above `threshold` (and below `cap` calls) the output goes on from the
    text so far under the `one` grammar (exactly one more call), else `close` is appended
    as is. Without `each`, only the first boundary is decided so: going on is under `more`
    (one or more calls, the later boundaries the model's greedy choice). Without
    probabilities (another backend) it goes on under `rest` (the model's greedy choice of
    any further calls, as in one generation)."""

    first: str
    one: str
    more: str
    rest: str
    close: str
    threshold: float
    cap: int = 2
    each: bool = False
    more_marks: tuple[str, ...] = (",",)
    end_marks: tuple[str, ...] = ("]",)
    probe_more: bool = True  # False: after the first call, the model's greedy choice (`rest`)
    # The first call's tool, chosen on the model's probabilities where the name begins times
    # a prior from the request's words (gateway.toolprior); the choice constrains the first
    # part to that tool's call rule. `picks`: each tool's call rule in `first` (in tool
    # order); `names`: each name as the model writes it after `name_open` (the text before
    # the first name), up to its closing quote; `pick_open`: the GBNF before the call in
    # `first`; `prior_strength`: ln of the most the words may move the odds between tools.
    picks: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    name_open: str = ""
    pick_open: str = ""
    prior_strength: float = 0.0
    prior: tuple[float, ...] = ()  # this request's weights (request_plan), () for none
    # With `novel` (implies `each`): a further call is generated when its probability
    # reaches `threshold`, and kept only if it brings a value of the request no earlier
    # call used (gateway.staged.novel_values); `request`: the user's last message
    # (request_plan).
    novel: bool = False
    request: str = ""
    # With `novel`: a further call that brings nothing new is tried once more with the
    # first tokens of the request's values the earlier calls used held back
    # (gateway.staged.value_tokens) before the list is closed.
    retry: bool = False
    # With `novel`: a further call that only repeats values the earlier calls took from the
    # request, generated where p(more) was at least `vary` (0: never), first has those
    # values written again as other values of the request (gateway.staged.Grounding.vary).
    vary: float = 0.0
    # With `novel`: a further call kept that copies numbers of the last call to its tool
    # while another of its values moved on to one no call used has those numbers put in
    # step: the request's number in the same slot of the next group (gateway.pairing).
    pair: bool = False
    # With `novel`: once a further call is kept, the calls to each tool are put in step with
    # each other, earlier ones too (gateway.pairing.realign): the events of the list are
    # held until it ends, so an earlier call can still change.
    realign: bool = False
    # With `ground`: each call, once complete, has every string value that shares nothing
    # with the conversation (`context`: all its messages' text; tool names, numbers, codes,
    # paths and `fixed` words aside) written again as a short excerpt of the user's last
    # message (`request`), the call kept so only when it still validates (`schemas`: each
    # tool's name and parameters). A small model invents values (`"Santoflamento"` for
    # Shanghai, `"CA"` copied from a description) where the request had the words
    # (gateway.staged.Grounding).
    ground: bool = False
    # With `ground`: a number of a call that the conversation does not give (nor the tools'
    # schemas, nor worked out from either by a unit's factor) is written again as one of
    # the numbers of the user's last message (`10000` for a principal said to be 5000).
    ground_numbers: bool = False
    context: str = ""
    schemas: tuple[tuple[str, Any], ...] = ()
    # the words of the tools' enum values, string defaults and single words a description
    # quotes: values a call may hold that the conversation need not have said
    fixed: frozenset[str] = frozenset()

    def first_for(self, chosen: list[int]) -> str:
        """`first` with the first call limited to the tools `chosen` (indices)."""
        head = " | ".join(self.picks[i] for i in chosen)
        return f"root ::= {self.pick_open} ({head})\n" + self.first.split("\n", 1)[1]

    def with_rules(self, extra: str) -> CallDecision:
        """The same decision with `extra` rules added to each grammar."""
        return replace(self, first=self.first + extra, one=self.one + extra,
                       more=self.more + extra, rest=self.rest + extra)


@dataclass(slots=True)
class GrammarPlan:
    """The constraint for one request, in llama.cpp's own terms."""

    grammar: str | None = None
    lazy: bool = False
    # llama.cpp trigger objects: {"type": int, "value": str}; type 0 token (+ "token": id),
    # 1 word, 2 pattern, 3 pattern_full. A string "type" gets HTTP 400 from llama.cpp, and a
    # one-token trigger word must also be in preserved_tokens.
    triggers: list[dict[str, Any]] = field(default_factory=list)
    preserved_tokens: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    decision: CallDecision | None = None  # generate call by call (see CallDecision)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One chat request as a dialect sees it: the client's data, checked, in plain Python
    values. Built once and complete (`chat_request.build_context`), never changed; what the
    server brings (template, options, schema converter) comes beside it, not in it."""

    messages: list[dict[str, Any]]
    tools: list[ToolDef]
    tool_choice: ToolChoiceMode = "auto"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    response_schema: dict[str, Any] | bool | None = None  # json_schema response_format
    json_mode: bool = False  # json_object response_format
    strict: bool = False  # response_format strict
    reasoning_effort: str | None = None  # passed to templates that read it (gpt-oss)
    # Identifies tools + tool_choice + parallel + response_format: a cache key for work that
    # depends only on them (tool descriptions, grammars). Empty: do not cache.
    tools_key: bytes = b""

    @property
    def offers_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice != "none"

    def selected_tools(self) -> list[ToolDef]:
        """The tools a call may name under the tool_choice."""
        if self.tool_choice == "named":
            return [t for t in self.tools if t.name == self.forced_tool]
        return [] if self.tool_choice == "none" else list(self.tools)


@dataclass(frozen=True, slots=True)
class ServedModel:
    """What the server settled at start-up, the same for every request: the model's chat
    template, the dialect chosen for it, and that dialect's --dialect-option values (typed
    at start-up; a key not given is absent)."""

    template: ChatTemplate
    dialect: Dialect
    options: Mapping[str, Any] = field(default_factory=dict)


# (JSON Schema, strict, limits) -> a standalone GBNF grammar; raises SchemaError
SchemaConverter = Callable[[Any, bool, GrammarLimits], str]
ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


@dataclass(frozen=True, slots=True)
class SchemaGrammars:
    """What a dialect builds one request's grammar with: standalone GBNF grammars (start rule
    `root`) for JSON Schemas, from the server's converter (the schema-to-grammar hook and its
    cache), under bounds shaped by the answer's token budget."""

    convert: SchemaConverter
    limits: GrammarLimits = field(default_factory=GrammarLimits)
    # Tokens the answer may take (max_tokens, else what the context leaves): dialects shape
    # their grammar so a call closes within it. None: unknown.
    budget_tokens: int | None = None

    def schema(self, schema: Any, strict: bool) -> str:
        """A tool's arguments: objects stay closed (a function rarely takes keys it did not
        declare)."""
        return self.convert(schema, strict, self.limits)

    def response(self, ctx: RequestContext) -> str | None:
        """The answer's grammar when response_format asks for JSON (json_schema: objects open,
        as JSON Schema says; json_object: any object), else None."""
        if ctx.response_schema is not None:
            return self.convert(ctx.response_schema, ctx.strict,
                                replace(self.limits, open_objects=True, spaced=True))
        if ctx.json_mode:
            return self.convert(ANY_OBJECT, ctx.strict, replace(self.limits, spaced=True))
        return None


# ---- parsing ------------------------------------------------------------------------------

DeltaKind = Literal["content", "reasoning", "tool_start", "tool_args"]


@dataclass(slots=True)
class Delta:
    """One piece of parsed output. tool_start carries index, id, name; tool_args a fragment."""

    kind: DeltaKind
    text: str = ""
    index: int = 0
    id: str | None = None
    name: str | None = None


class OutputParser(Protocol):
    """Per-request incremental parser: the core feeds generated text as it arrives."""

    def feed(self, text: str) -> list[Delta]: ...

    def finish(self) -> list[Delta]: ...


@dataclass(slots=True)
class ParsedToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ParsedOutput:
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ParsedToolCall] = field(default_factory=list)


def assemble(deltas: list[Delta]) -> ParsedOutput:
    """Fold deltas into a message: what the non-streaming path returns."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, ParsedToolCall] = {}
    for d in deltas:
        if d.kind == "content":
            content.append(d.text)
        elif d.kind == "reasoning":
            reasoning.append(d.text)
        elif d.kind == "tool_start":
            calls[d.index] = ParsedToolCall(d.id or new_call_id(), d.name or "", d.text)
        elif d.kind == "tool_args":
            calls[d.index].arguments += d.text
    return ParsedOutput(
        content="".join(content) or None,
        reasoning="".join(reasoning) or None,
        tool_calls=[calls[i] for i in sorted(calls)],
    )


_ALNUM = string.ascii_letters + string.digits


def new_call_id(prefix: str = "call_", length: int = 24) -> str:
    """prefix + `length` random letters/digits, from one read of the OS random source (a
    choice per character costs ~10 µs per id on the hot path)."""
    raw = int.from_bytes(secrets.token_bytes(length), "big")
    out = []
    for _ in range(length):
        raw, r = divmod(raw, 62)
        out.append(_ALNUM[r])
    return prefix + "".join(out)


class PassthroughParser:
    """Everything is content (plain chat, or a response_format answer)."""

    def feed(self, text: str) -> list[Delta]:
        return [Delta("content", text)] if text else []

    def finish(self) -> list[Delta]:
        return []


# ---- dialects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DialectClaim:
    """A dialect's claim on a chat template: the highest score wins; reason is logged."""

    dialect: str
    score: int
    reason: str


class Dialect:
    """Base class: plain chat through the template, no tools. Subclasses override pieces."""

    name = "base"
    description = ""
    # the --dialect-option keys this dialect reads, typed and checked at start-up
    options: tuple[DialectOption, ...] = ()

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        """The prompt text for llama.cpp's /completion."""
        tools = [t.openai() for t in ctx.tools] if ctx.offers_tools else None
        return model.template.render(ctx.messages, tools=tools, add_generation_prompt=True,
                                     extra_context=template_variables(ctx))

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        """The constraint for this request (tools and/or response_format)."""
        return response_format_plan(ctx, grammars)

    def conversation_rules(self, ctx: RequestContext, model: ServedModel) -> str:
        """GBNF rules that depend on this conversation, not only on the tools: added to the
        grammar of the (cached) plan on every request, so that the plan's rules can refer
        to them. "" for none."""
        return ""

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        """A fresh incremental parser of this request's generated text."""
        return PassthroughParser()


def request_plan(plan: GrammarPlan, ctx: RequestContext, model: ServedModel) -> GrammarPlan:
    """A (cacheable) plan completed with what depends on this conversation: the rules of
    Dialect.conversation_rules, and the prior on the first call's tool from the request's
    words (gateway.toolprior). The constraint the request is sent with."""
    extra = model.dialect.conversation_rules(ctx, model) if plan.grammar else ""
    decision = plan.decision
    if decision is not None and decision.picks:
        scores = tool_scores(ctx.selected_tools(), request_text(ctx.messages), ctx.tools_key)
        decision = replace(decision, prior=prior(scores, decision.prior_strength))
    if decision is not None and (decision.novel or decision.ground):
        decision = replace(decision, request=request_text(ctx.messages))
    if decision is not None and decision.ground:
        decision = replace(decision, context=conversation_text(ctx.messages))
    if not extra or not plan.grammar:
        return plan if decision is plan.decision else replace(plan, decision=decision)
    decision = decision.with_rules(extra) if decision is not None else None
    return replace(plan, grammar=plan.grammar + extra, decision=decision)


def template_variables(ctx: RequestContext) -> dict[str, Any]:
    """Request fields some chat templates read (None values mean "not given")."""
    return {"reasoning_effort": ctx.reasoning_effort}


def response_format_plan(ctx: RequestContext, grammars: SchemaGrammars) -> GrammarPlan:
    """A non-lazy grammar for the answer itself when response_format asks for JSON."""
    return GrammarPlan(grammar=grammars.response(ctx))


def parallel_cap(options: Mapping[str, Any], budget_tokens: int | None, default: int) -> int:
    """How many calls one answer may hold: the `max_parallel_calls` option (else the
    dialect's default), and no more than the token budget fits — a call takes tens of tokens,
    and calls cut off by max_tokens are lost."""
    cap = max(1, options.get("max_parallel_calls", default))  # typed at start-up
    if budget_tokens is not None:
        cap = min(cap, max(1, budget_tokens // 64))
    return cap


def reasoning_cap(options: Mapping[str, Any], budget_tokens: int | None, default: int) -> int:
    """Characters a reasoning block may take before a call: the `think_max_chars` option
    (else the dialect's default), and under a token budget no more than half of it — a
    small model loops inside free text, and the call must still close before max_tokens."""
    cap = max(0, options.get("think_max_chars", default))  # typed at start-up
    if budget_tokens is not None:
        cap = min(cap, budget_tokens // 2)
    return cap


def arguments_json(arguments: Any) -> str:
    """Tool-call arguments are always a JSON string on the wire."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
