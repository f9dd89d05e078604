"""Functionary v3.1 (Llama 3.1 based): `<function=name>{json}</function>`, calls back to back,
and `<|python_tag|>` followed by raw code for the python tool.

Grammar: tool_choice auto is lazy, triggered by the words `<function=` (and `<|python_tag|>`
when a python tool is offered), so free text before a call stays free; required/named is
a non-lazy grammar that starts with a call. With a JSON response_format under auto the
grammar is non-lazy: the JSON answer or the calls.
"""

from __future__ import annotations

from gateway.callgrammar import response_rules
from gateway.dialect import (
    Delta,
    Dialect,
    GrammarPlan,
    OutputParser,
    PassthroughParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    new_call_id,
    word_trigger,
)
from gateway.dialect_options import MAX_PARALLEL_CALLS
from gateway.grammar import literal

from .common import (
    MAX_NAME,
    PYTHON,
    JsonArgs,
    SegmentParser,
    args_rules,
    code_chunk,
    code_start,
    has_python,
    max_calls,
    offered_tools,
    python_history,
    render,
    repeat,
    valid_name_char,
)
from .common import content as _content

FUNC, END, PY_TAG, EOM = "<function=", "</function>", "<|python_tag|>", "<|eom_id|>"
HOW = ("To call a function reply <function=NAME>{JSON arguments}</function>; "
       "several calls go back to back.")


class FunctionaryV31(Dialect):
    name = "functionary-v3.1"
    description = "functionary v3.1: <function=name>{json}</function>, <|python_tag|> code"
    options = (MAX_PARALLEL_CALLS,)

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        return render(ctx, model, python_history(ctx.messages), HOW)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        tools = offered_tools(ctx)
        if not tools:
            return super().tools_grammar(ctx, model, grammars)
        python = has_python(tools)
        rules, roots = args_rules(grammars, tools)
        fcalls = [f"{literal(FUNC + name + '>')} {root} {literal(END)}"
                  for name, root in roots.items()]
        rules.append("fcall ::= " + " | ".join(f"( {c} )" for c in fcalls))
        if python:
            rules.append(f"py ::= {literal(PY_TAG)} code")
            rules.append("code ::= [^\\x00]*")  # the code runs to the end of the turn
        n = max_calls(ctx, model, grammars)
        calls = repeat("fcall", 1, n) + (f" | {repeat('fcall', 0, n - 1)} py" if python else "")
        # the template's end of a calling turn, as text: lets a model that does not have
        # it as a special token end the turn (it is a stop word, so never in the output)
        rules.append(f"calls ::= ( {calls} ) {literal(EOM)}?")
        plan = GrammarPlan(stop=[EOM], preserved_tokens=[PY_TAG] if python else [])
        response = response_rules(ctx, grammars) if ctx.tool_choice == "auto" else None
        if response is not None:
            body, res_root = response
            rules += body
            rules.insert(0, f"root ::= {res_root} | calls")
        else:
            rules.insert(0, "root ::= calls")  # lazy: starts with the trigger text
            if ctx.tool_choice == "auto":
                plan.lazy = True
                words = [FUNC, PY_TAG] if python else [FUNC]
                plan.triggers = [word_trigger(w) for w in words]
        plan.grammar = "\n".join(rules) + "\n"
        return plan

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        tools = offered_tools(ctx)
        if not tools:
            return PassthroughParser()
        return V31Parser({t.name for t in ctx.tools}, python=has_python(tools))


class V31Parser(SegmentParser):
    """Content until `<function=`; the name up to `>`; JSON arguments streamed as they come;
    `</function>` closes. Anything that does not fit is content, never dropped (except the
    whitespace around a call's JSON). A call already streamed cannot be taken back: output
    cut off inside the arguments (max_tokens) leaves them incomplete, as the finish_reason
    "length" tells; under the grammar nothing else can break a call once started."""

    def __init__(self, names: set[str], python: bool) -> None:
        super().__init__(names, [FUNC, END, PY_TAG] if python else [FUNC, END], "text")
        self._python = python  # states: text | name | open | args | close | code

    def _finish_held(self, out: list[Delta]) -> None:
        if self._state == "name":
            _content(out, FUNC + self._buf)
        elif self._state == "open":
            _content(out, FUNC + self._name + ">" + self._buf)

    def _on_text(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker and piece == FUNC:
            self._state, self._buf = "name", ""
        elif marker and piece == PY_TAG:
            out += code_start(self._index)
            self._state = "code"
        else:
            _content(out, piece)

    def _on_name(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker:
            return self._abandon(FUNC + self._buf, marker, piece, out)
        for i, c in enumerate(piece):
            if c == ">" and self._buf in self._names:
                self._name, self._buf, self._state = self._buf, "", "open"
                return self._on_open(False, piece[i + 1:], out)
            if c == ">" or not valid_name_char(c) or len(self._buf) >= MAX_NAME:
                return self._abandon(FUNC + self._buf, False, piece[i:], out)
            self._buf += c
        return None

    def _on_open(self, marker: bool, piece: str, out: list[Delta]) -> None:
        """After `<function=name>`: the arguments must open with `{`."""
        head = FUNC + self._name + ">"
        if marker:
            return self._abandon(head + self._buf, marker, piece, out)
        stripped = piece.lstrip()
        if not stripped:
            self._buf += piece
            return None
        if stripped[0] != "{":
            return self._abandon(head + self._buf, False, piece, out)
        out.append(Delta("tool_start", index=self._index, id=new_call_id(), name=self._name))
        self._args, self._buf, self._state = JsonArgs(self._index), "", "args"
        return self._on_args(False, stripped, out)

    def _on_args(self, marker: bool, piece: str, out: list[Delta]) -> None:
        assert self._args is not None
        out += self._args.feed(piece)  # a marker inside the JSON (a string) is JSON text
        if self._args.done or self._args.failed:
            rest = self._args.take_rest()
            failed = self._args.failed
            self._args, self._index = None, self._index + 1
            self._state, self._buf = ("text" if failed else "close"), ""
            if rest:
                self._piece(False, rest, out)

    def _on_close(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker and piece == END:
            self._state, self._buf = "text", ""
        elif marker:  # a new call without `</function>` first: accept it
            self._state, self._buf = "text", ""
            self._on_text(marker, piece, out)
        elif not piece.strip():
            self._buf += piece
        else:
            self._abandon(self._buf, False, piece, out)

    def _on_code(self, marker: bool, piece: str, out: list[Delta]) -> None:
        out += code_chunk(self._index, piece)  # the code runs to the end of the output

    def _abandon(self, held: str, marker: bool, piece: str, out: list[Delta]) -> None:
        """Not a call after all: what was held back is content; go on as text."""
        _content(out, held)
        self._state, self._buf = "text", ""
        if piece:
            self._on_text(marker, piece, out)


__all__ = ["PYTHON", "FunctionaryV31", "V31Parser"]
