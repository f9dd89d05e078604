"""What a dialect is: how one family of models is prompted for tools, constrained and parsed.

A dialect hands the core roughly what llama.cpp itself uses for chat: the prompt, a GBNF
grammar (optionally lazy, with triggers and preserved tokens) and extra stop words; and it
parses the generated text back into content, reasoning and tool calls, incrementally.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, Protocol

from gateway.dialect_options import DialectOption
from gateway.templating import ChatTemplate

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


@dataclass(slots=True)
class RequestContext:
    """Everything a dialect needs to know about one chat request (plain Python values)."""

    messages: list[dict[str, Any]]
    tools: list[ToolDef]
    tool_choice: ToolChoiceMode = "auto"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    response_schema: dict[str, Any] | bool | None = None  # json_schema response_format
    json_mode: bool = False  # json_object response_format
    strict: bool = False  # response_format strict
    template: ChatTemplate | None = None
    dialect: Dialect | None = None
    options: dict[str, Any] = field(default_factory=dict)  # serve options for dialects
    # Set by the core: compiles a JSON Schema to a standalone GBNF grammar (root rule `root`)
    # through the schema-to-grammar hook and its cache.
    schema_grammar: Callable[[Any, bool], str] | None = None
    hooks: Any = None  # the plugin manager's hook relay, for hooks that call other hooks
    # Identifies tools + tool_choice + parallel + response_format: a cache key for work that
    # depends only on them (tool descriptions, grammars). Empty: do not cache.
    tools_key: bytes = b""
    # Tokens the answer may take (max_tokens, else what the context leaves): dialects shape
    # their grammar so a call closes within it. None: unknown.
    budget_tokens: int | None = None
    reasoning_effort: str | None = None  # passed to templates that read it (gpt-oss)

    @property
    def offers_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice != "none"

    def selected_tools(self) -> list[ToolDef]:
        """The tools a call may name under the tool_choice."""
        if self.tool_choice == "named":
            return [t for t in self.tools if t.name == self.forced_tool]
        return [] if self.tool_choice == "none" else list(self.tools)

    def grammar_for(self, schema: Any, strict: bool | None = None) -> str:
        """A standalone GBNF grammar (start rule `root`) for the schema, via the hook."""
        if self.schema_grammar is None:
            raise RuntimeError("RequestContext.schema_grammar is not set")
        return self.schema_grammar(schema, self.strict if strict is None else strict)


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

    def render_prompt(self, ctx: RequestContext) -> str:
        assert ctx.template is not None
        tools = [t.openai() for t in ctx.tools] if ctx.offers_tools else None
        return ctx.template.render(ctx.messages, tools=tools, add_generation_prompt=True,
                                   extra_context=template_variables(ctx))

    def tools_grammar(self, ctx: RequestContext) -> GrammarPlan:
        """The constraint for this request (tools and/or response_format)."""
        return response_format_plan(ctx)

    def conversation_rules(self, ctx: RequestContext) -> str:
        """GBNF rules that depend on this conversation, not only on the tools: added to the
        grammar of the (cached) plan on every request, so that the plan's rules can refer
        to them. "" for none."""
        return ""

    def create_parser(self, ctx: RequestContext) -> OutputParser:
        return PassthroughParser()


def template_variables(ctx: RequestContext) -> dict[str, Any]:
    """Request fields some chat templates read (None values mean "not given")."""
    return {"reasoning_effort": ctx.reasoning_effort}


def response_format_plan(ctx: RequestContext) -> GrammarPlan:
    """A non-lazy grammar for the answer itself when response_format asks for JSON."""
    if ctx.response_schema is not None:
        return GrammarPlan(grammar=ctx.grammar_for(ctx.response_schema))
    if ctx.json_mode:
        any_object = {"type": "object", "additionalProperties": True}
        return GrammarPlan(grammar=ctx.grammar_for(any_object))
    return GrammarPlan()


def parallel_cap(ctx: RequestContext, default: int) -> int:
    """How many calls one answer may hold: the `max_parallel_calls` option (else the
    dialect's default), and no more than the token budget fits — a call takes tens of tokens,
    and calls cut off by max_tokens are lost."""
    cap = max(1, ctx.options.get("max_parallel_calls", default))  # typed at start-up
    if ctx.budget_tokens is not None:
        cap = min(cap, max(1, ctx.budget_tokens // 64))
    return cap


def reasoning_cap(ctx: RequestContext, default: int) -> int:
    """Characters a reasoning block may take before a call: the `think_max_chars` option
    (else the dialect's default), and under a token budget no more than half of it — a
    small model loops inside free text, and the call must still close before max_tokens."""
    cap = max(0, ctx.options.get("think_max_chars", default))  # typed at start-up
    if ctx.budget_tokens is not None:
        cap = min(cap, ctx.budget_tokens // 2)
    return cap


def arguments_json(arguments: Any) -> str:
    """Tool-call arguments are always a JSON string on the wire."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
