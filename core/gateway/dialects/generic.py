"""The generic dialect: grammar-constrained tool calling for any model, even one whose
template knows nothing about tools.

The model answers one JSON object,
``{"thought_about_next_step_only": str, "next_step": {"tool_calls": [...]} | {"result": T}}``,
constrained by a grammar built from the tools' schemas: every call names a real tool and its
arguments match that tool's schema. Tools are described in the system prompt (TypeScript
signatures by default, or JSON Schema). History with tool calls/results is rendered as plain
assistant/user turns so that any template can show it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from gateway.cache import BoundedCache
from gateway.callgrammar import call_list, tool_args_rules
from gateway.dialect import (
    CallDecision,
    Delta,
    Dialect,
    DialectClaim,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    arguments_json,
    new_call_id,
    parallel_cap,
)
from gateway.dialect_options import MAX_PARALLEL_CALLS, choice_option, int_option
from gateway.excerpt import excerpt_rules
from gateway.grammar import rename_rules
from gateway.hookspecs import hookimpl
from gateway.jsonstream import JsonScanner
from gateway.toolprior import request_text, words
from gateway.typescript import enum_words, ts_function

THOUGHT = "thought_about_next_step_only"
_STRING_CHAR = r'( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )'


def _lit(text: str) -> str:
    return json.dumps(text)  # a GBNF literal: JSON string escaping is valid GBNF escaping


class GenericDialect(Dialect):
    name = "generic"
    description = "JSON envelope with thought + tool_calls/result, for any model"
    options = (
        choice_option("tool_style", "typescript", "json", help="how tools are described"),
        choice_option("example", "off", "on", help="show an example call in the prompt"),
        choice_option("thought", "auto", "always", "never",
                      help="a short thought before the answer"),
        int_option("thought_max_chars", 0, "characters the thought may take"),
        choice_option("quote", "off", "on",
                      help="each call first quotes the words of the request it serves"),
        int_option("more_calls_pct", 0,
                   "with required/named calls: the model's probability (in %) of another call, "
                   "read after each call, at which it goes on (0: its greedy choice in "
                   "one generation)"),
        choice_option("more_calls_each", "off", "on",
                      help="with more_calls_pct: decide after every call, not only the first"),
        choice_option("more_calls_novel", "on", "off",
                      help="with more_calls_pct: a further call is kept only if it brings a "
                           "value of the request no earlier call used"),
        choice_option("more_calls_retry", "on", "off",
                      help="with more_calls_novel: a further call that brings nothing new is "
                           "tried once more, steered away from the values already used"),
        int_option("more_calls_vary_pct", 0,
                   "with more_calls_novel: a further call that only repeats values the "
                   "earlier calls took from the request, made where the model's probability "
                   "(in %) of another call was at least this, first has those values written "
                   "again as other values of the request (0: never)"),
        choice_option("more_calls_pair", "on", "off",
                      help="with more_calls_novel: a further call that copies numbers of the "
                           "call before while its other values move on to the next group of "
                           "the request has those numbers taken from that group too "
                           "(\"base 10, height 5 and base 15, height 7\")"),
        choice_option("more_calls_realign", "on", "off",
                      help="with more_calls_novel: once a further call is kept, the calls to "
                           "a tool are put in step with each other, the first one too (one "
                           "argument's values fix each call's group of the request; the "
                           "others take the values standing to it as in the calls that have "
                           "them right); the calls are then sent when the list ends"),
        int_option("name_prior_odds", 0,
                   "with required calls and several tools: the most (as odds) the words the "
                   "request shares with a tool may favour it over another for the first "
                   "call, against the model's own probabilities (0 or 1: the model alone)"),
        choice_option("ground_values", "on", "off",
                      help="with required/named calls: a string value that shares no word "
                           "with the conversation is written again as an excerpt of the "
                           "user's last message (kept only if the call still validates)"),
        choice_option("ground_numbers", "on", "off",
                      help="with ground_values: a number that the conversation does not give "
                           "(nor the tools' schemas, nor worked out from either by a unit's "
                           "factor) is written again as one of the numbers of the user's last "
                           "message (kept only if the call still validates)"),
        MAX_PARALLEL_CALLS,
    )

    def __init__(self) -> None:
        self._prompts: BoundedCache[str] = BoundedCache(256)
        self._enum_words: BoundedCache[frozenset[str]] = BoundedCache(256)

    # -- prompt ---------------------------------------------------------------------------
    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        messages = _plain_history(ctx.messages)
        if ctx.tools:
            messages = _with_system(messages, self.system_prompt(ctx, model.options))
        return model.template.render(messages, add_generation_prompt=True)

    def system_prompt(self, ctx: RequestContext, options: Mapping[str, Any]) -> str:
        style = options.get("tool_style", "typescript")
        said: frozenset[str] = frozenset()
        if style != "json":  # enum values the request names are shown first (enum_order)
            tools = ctx.selected_tools() or ctx.tools
            named = (self._enum_words.get_or_make(ctx.tools_key, lambda: _enum_words(tools))
                     if ctx.tools_key else _enum_words(tools))
            if named:
                said = named.intersection(words(request_text(ctx.messages)))
        if not ctx.tools_key:
            return self._system_prompt(ctx, options, style, said)
        key = ctx.tools_key + style.encode() + " ".join(sorted(said)).encode()
        return self._prompts.get_or_make(key, lambda: self._system_prompt(ctx, options, style,
                                                                          said))

    def _system_prompt(self, ctx: RequestContext, options: Mapping[str, Any], style: str,
                       said: frozenset[str]) -> str:
        tools = ctx.selected_tools() or ctx.tools
        if style == "json":
            described = json.dumps([{"name": t.name, "description": t.description,
                                     "parameters": t.parameters} for t in tools],
                                   ensure_ascii=False)
        else:
            described = "\n".join(ts_function(t.name, t.description, t.parameters, said)
                                  for t in tools)
        call = '{"name": "<tool name>", "arguments": {<arguments>}}'
        if _quoting(ctx, options):
            call = ('{"quote": "<the words of the request this call serves>", '
                    '"name": "<tool name>", "arguments": {<arguments>}}')
        thought = f'"{THOUGHT}": "<short thought>", ' if _with_thought(ctx, options) else ""
        nest = (f"{{{thought}\"next_step\": {{", "}}") if thought else ("{", "}")
        shape_calls = f'{nest[0]}"tool_calls": [{call}]{nest[1]}'
        shape_result = f'{nest[0]}"result": <answer>{nest[1]}'
        if ctx.tool_choice == "none":
            how = f"Do not call a tool now. Answer as {shape_result}."
        elif ctx.tool_choice in ("required", "named"):
            how = f"Call a tool now. Answer as {shape_calls}."
        else:
            how = (f"To call tools, answer {shape_calls}. "
                   f"To answer the user directly, answer {shape_result}.")
        example = ""
        if options.get("example", "off") == "on":
            example = ("\n\nExample: for the request \"weather in Oslo, in celsius\" and a tool "
                       "get_weather(city, unit), the tool call is "
                       '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}'
                       ". Copy the values from the request.")
        return f"You have these tools:\n{described}\n\nAnswer with one JSON object. {how}{example}"

    # -- grammar --------------------------------------------------------------------------
    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        if not ctx.tools:
            return super().tools_grammar(ctx, model, grammars)
        options, budget = model.options, grammars.budget_tokens
        rules: list[str] = []
        max_thought: int = options.get("thought_max_chars", 200)
        if budget is not None:  # the thought must leave room for the call
            max_thought = min(max_thought, budget // 4)
        if _with_thought(ctx, options):
            rules.append(f'thought ::= "\\"" {_STRING_CHAR}{{0,{max_thought}}} "\\""')
        steps: list[str] = []
        tools = ctx.selected_tools()
        if tools:
            args, roots = tool_args_rules(grammars, tools, "t")
            rules += args
            alts = []
            # `call-open` comes from conversation_rules: it may quote the request
            opening = "call-open" if _quoting(ctx, options) else '"{"'
            for i, (tool, root) in enumerate(zip(tools, roots, strict=True)):
                head = _lit('"name":' + json.dumps(tool.name) + ',"arguments":')
                rules.append(f'call{i} ::= {opening} {head} {root} "}}"')
                alts.append(f"call{i}")
            rules.append("call ::= " + " | ".join(alts))
            cap = parallel_cap(options, budget, 4) if ctx.parallel_tool_calls else 1
            listed = call_list("call", '","', cap)
            rules.append(f'calls ::= {_CALLS_OPEN} {listed} "]}}"')
            steps.append("calls")
        if ctx.tool_choice in ("auto", "none"):
            response = grammars.response(ctx)
            if response is not None:
                body, root = rename_rules(response, "res-")
                rules.append(body)
            else:
                rules.append(f'answer ::= "\\"" {_STRING_CHAR}* "\\""')
                root = "answer"
            rules.append(f'result ::= "{{\\"result\\":" {root} "}}"')
            steps.append("result")
        rules.append("step ::= " + " | ".join(steps))
        decision = None
        if steps == ["calls"] and not _with_thought(ctx, options):
            decision = _call_decision(rules, options, cap, tools, not _quoting(ctx, options))
        if _with_thought(ctx, options):
            head = _lit('{"' + THOUGHT + '":')
            rules.insert(0, f'root ::= {head} thought ",\\"next_step\\":" step "}}"')
        else:
            rules.insert(0, "root ::= step")
        return GrammarPlan(grammar="\n".join(rules) + "\n", decision=decision)

    def conversation_rules(self, ctx: RequestContext, model: ServedModel) -> str:
        """`call-open`: with the `quote` option, each call starts by quoting the words of the
        user's last message it serves (a contiguous excerpt, see gateway.excerpt)."""
        if not _quoting(ctx, model.options):
            return ""
        source = _quote_source(ctx)
        made = excerpt_rules(source) if source is not None else None
        if made is None:
            return 'call-open ::= "{"\n'
        rules, root = made
        return "\n".join([f'call-open ::= "{{\\"quote\\":\\"" {root} "\\","', *rules]) + "\n"

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        if not ctx.tools:
            return super().create_parser(ctx, model)
        raw_result = ctx.response_schema is not None or ctx.json_mode
        return EnvelopeParser(raw_result=raw_result)


class EnvelopeParser:
    """Streams the envelope: thought → reasoning, calls → tool deltas, result → content."""

    def __init__(self, raw_result: bool) -> None:
        self._scan = JsonScanner()
        self._raw_result = raw_result
        self._plain = False  # the model did not answer JSON: everything is content
        self._names: dict[int, list[str]] = {}
        self._started: set[int] = set()
        self._seen_any = False

    def feed(self, text: str) -> list[Delta]:
        if self._plain:
            return [Delta("content", text)] if text else []
        if not self._seen_any:
            stripped = text.lstrip()
            if not stripped:
                return []
            self._seen_any = True
            if not stripped.startswith("{"):
                self._plain = True
                return [Delta("content", text)]
        out: list[Delta] = []
        for ev in self._scan.feed(text):
            self._on_event(ev.kind, ev.path, ev.text, ev.raw, out)
        if self._scan.error and self._scan.rest:
            out.append(Delta("content", self._scan.rest))
            self._scan.rest = ""
        return out

    def _on_event(self, kind: str, path: tuple[Any, ...], text: str, raw: str,
                  out: list[Delta]) -> None:
        if path == (THOUGHT,):
            if kind == "str":
                out.append(Delta("reasoning", text))
            return
        if path and path[0] == "next_step":
            path = path[1:]
        elif not path or path[0] not in ("tool_calls", "result"):
            return
        path = ("next_step", *path)
        if len(path) < 2:
            return
        if path[1] == "result":
            if self._raw_result:
                out.append(Delta("content", raw))
            elif kind == "str" or kind == "scalar" and len(path) == 2:
                out.append(Delta("content", text))
            return
        if path[1] != "tool_calls" or len(path) < 4 or not isinstance(path[2], int):
            return
        idx = path[2]
        if path[3] == "name":
            if kind == "str":
                self._names.setdefault(idx, []).append(text)
            elif kind == "end_str":
                self._started.add(idx)
                out.append(Delta("tool_start", index=idx, id=new_call_id(),
                                 name="".join(self._names.get(idx, []))))
        elif path[3] == "arguments" and idx in self._started:
            out.append(Delta("tool_args", raw, index=idx))

    def finish(self) -> list[Delta]:
        out: list[Delta] = []
        if self._plain:
            return out
        for ev in self._scan.finish():
            self._on_event(ev.kind, ev.path, ev.text, ev.raw, out)
        return out


# Measured on BFCL's live_* categories (demo model, 88 cases): answers with as many calls as
# wanted 53% -> 64% (single-call requests 83% -> 79%, parallel ones 18% -> 45%). With
# more_calls_novel (a further call kept only if it brings a value of the request), on
# live_simple/live_multiple/live_parallel/live_parallel_multiple (40/40/16/24): accuracy
# 12.5/15.0/6.2/0.0% -> 15.0/20.0/6.2/4.2%, the right number of calls 85/78/62/8% ->
# 95/95/56/21% at 5% (97/97/56/8% at 20%), p50 time 1.8/3.2/6.1/8.9 s -> 1.2/2.6/1.7/4.2 s.
MORE_CALLS_PCT = 5
MORE_CALLS_PCT_UNCHECKED = 20  # without more_calls_novel
_CALLS_OPEN = '"{\\"tool_calls\\":["'
MORE_CALLS_VARY_PCT = 20


# Measured on BFCL's live_multiple (demo model, 317 requests with several tools): the right
# first tool 44% -> 74% (odds 20, i.e. strength 3; 72% at 3, 75% at 400).
NAME_PRIOR_ODDS = 20


def _call_decision(rules: list[str], options: Mapping[str, Any], cap: int,
                   tools: list[ToolDef], may_pick: bool) -> CallDecision | None:
    """The call list generated in parts (see CallDecision): with the `more_calls_pct`
    option and room for more than one call, after the first call (with `more_calls_each`,
    after each call) more calls or the end; with the `name_prior_odds` option and several
    tools (`may_pick`), the first call's tool chosen on the model's probabilities and the
    request's words; with `ground_values`, each call's unfounded values written again as
    excerpts of the request."""
    names = [t.name for t in tools] if may_pick else []
    novel = options.get("more_calls_novel", "on") == "on"
    pct: int = options.get("more_calls_pct",
                           MORE_CALLS_PCT if novel else MORE_CALLS_PCT_UNCHECKED)
    odds: int = options.get("name_prior_odds", NAME_PRIOR_ODDS)
    vary: int = options.get("more_calls_vary_pct", MORE_CALLS_VARY_PCT)
    probe_more = pct > 0 and cap >= 2
    pick = odds > 1 and len(names) >= 2
    ground = options.get("ground_values", "on") == "on"
    pair = probe_more and novel and options.get("more_calls_pair", "on") == "on"
    realign = probe_more and novel and options.get("more_calls_realign", "on") == "on"
    if not probe_more and not pick and not ground:
        return None
    body = "\n".join(rules) + "\n"
    more = call_list("call", '","', cap - 1)
    return CallDecision(
        first=f"root ::= {_CALLS_OPEN} call\n" + body,
        one='root ::= "," call\n' + body,
        more=f'root ::= "," {more} "]}}"\n' + body,
        rest=f'root ::= ("," call){{0,{cap - 1}}} "]}}"\n' + body,
        close="]}", threshold=min(pct, 100) / 100, cap=cap,
        each=options.get("more_calls_each", "off") == "on", probe_more=probe_more,
        novel=probe_more and novel,
        retry=probe_more and novel and options.get("more_calls_retry", "on") == "on",
        vary=(min(vary, 100) / 100 if probe_more and novel else 0.0),
        pair=pair, realign=realign,
        picks=tuple(f"call{i}" for i in range(len(names))) if pick else (),
        names=tuple(json.dumps(n)[1:] for n in names) if pick else (),
        name_open='{"tool_calls":[{"name":"', pick_open=_CALLS_OPEN,
        prior_strength=math.log(odds) if pick else 0.0,
        ground=ground, ground_numbers=ground and options.get("ground_numbers", "on") == "on",
        fixed=_fixed_words(tools) if ground else frozenset(),
        schemas=tuple((t.name, t.parameters) for t in tools) if ground or pair or realign
        else ())


def _enum_words(tools: list[ToolDef]) -> frozenset[str]:
    return frozenset().union(*(enum_words(t.parameters) for t in tools))


def _fixed_words(tools: list[ToolDef]) -> frozenset[str]:
    """The words of values a call may hold that the conversation need not have said: the
    tools' enum values, string defaults, and single words a description quotes (`'asc' or
    'desc'`: an enum in prose; a quoted example of several words is not one)."""
    texts = [t for tool in tools for t in _schema_strings(tool.parameters)]
    quoted = [m for tool in tools for text in (tool.description, *texts)
              for m in _QUOTED_WORD.findall(text or "")]
    return _enum_words(tools).union(*(words(d) for tool in tools
                                      for d in _schema_strings(tool.parameters, "default")),
                                    *(words(q) for q in quoted))


_QUOTED_WORD = re.compile(r"""['"`]([\w.-]{1,40})['"`]""")


def _schema_strings(schema: Any, key: str = "description", depth: int = 0) -> Iterator[str]:
    """The string values of `key` anywhere in a schema."""
    if depth > 16:
        return
    if isinstance(schema, dict):
        if isinstance(schema.get(key), str):
            yield schema[key]
        schema = list(schema.values())
    for sub in schema if isinstance(schema, list) else []:
        if isinstance(sub, dict | list):
            yield from _schema_strings(sub, key, depth + 1)


def _quoting(ctx: RequestContext, options: Mapping[str, Any]) -> bool:
    return bool(options.get("quote", "off") == "on" and ctx.selected_tools())


def _quote_source(ctx: RequestContext) -> str | None:
    """The text calls quote from: the user's last message."""
    for message in reversed(ctx.messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) and content.split() else None
    return None


def _with_thought(ctx: RequestContext, options: Mapping[str, Any]) -> bool:
    """The thought field: `thought` option always/never, or (auto) only when the model has
    to decide between calling and answering."""
    mode = options.get("thought", "auto")
    return mode == "always" or mode == "auto" and ctx.tool_choice in ("auto", "none")


def _plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assistant tool calls become the envelope the model would have written; tool results
    become user turns; consecutive same-role turns are merged (many templates demand
    alternation)."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        content = m.get("content") or ""
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for tc in m["tool_calls"]:
                fn = tc["function"]
                names[tc.get("id") or ""] = fn["name"]
                args = fn.get("arguments")
                args = json.loads(args) if isinstance(args, str) and args.strip() else args or {}
                calls.append({"name": fn["name"], "arguments": args})
            envelope = {THOUGHT: content, "next_step": {"tool_calls": calls}}
            content = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        elif role == "tool":
            name = names.get(m.get("tool_call_id") or "", m.get("name") or "tool")
            role = "user"
            content = f"Result of the call to {name}: {arguments_json(content)}"
        elif role == "developer":
            role = "system"
        if out and out[-1]["role"] == role and role != "system":
            out[-1] = {"role": role, "content": out[-1]["content"] + "\n\n" + content}
        else:
            out.append({"role": role, "content": content})
    return out


def _with_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": messages[0]["content"] + "\n\n" + text}
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


DIALECT = GenericDialect()


@hookimpl
def gateway_register_dialects(register: Any) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim:
    return DialectClaim("generic", 0, "fallback: works with any template")
