"""Functionary v3.2: the assistant turn is a sequence of `>>>recipient\\n` segments;
`all` carries text for the user, any other recipient is a call with JSON arguments (the
python tool takes raw code). The template's generation prompt already ends with `>>>`, so
the model starts with the recipient.

Grammar: the first token already decides between text and a call, so a lazy grammar gains
nothing here; every mode is a non-lazy grammar from the first character. Under auto it is
`"all\\n" text (">>>" call)*  |  call (">>>" call)*`, where text is free except that it
cannot contain `>>>` (which would open the next segment); under required/named it starts
with a call. No grammar under tool_choice none (unless response_format asks for JSON).
"""

from __future__ import annotations

from gateway.callgrammar import response_rules
from gateway.dialect import (
    Delta,
    Dialect,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    new_call_id,
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
    code_end,
    code_start,
    max_calls,
    offered_tools,
    python_history,
    render,
    repeat,
    valid_name_char,
)
from .common import content as _content

SEP, ALL, NL, EOT = ">>>", "all", "\n", "<|eot_id|>"
HOW = ("Reply as >>>all\\n followed by text for the user, and/or >>>NAME\\n followed by the "
       "JSON arguments to call a function.")
# text between segments: anything but `>>>` (a `>` must not start the separator)
TEXT_RULE = 'text ::= ( [^>] | ">" [^>] | ">>" [^>] )*'


class FunctionaryV32(Dialect):
    name = "functionary-v3.2"
    description = "functionary v3.2: >>>recipient segments, >>>all for text"
    options = (MAX_PARALLEL_CALLS,)

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        prompt = render(ctx, model, python_history(ctx.messages), HOW)
        if offered_tools(ctx) and not prompt.endswith(SEP):
            prompt += SEP  # a foreign template (--dialect): the turn opens with a recipient
        return prompt

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        tools = offered_tools(ctx)
        response = response_rules(ctx, grammars) if ctx.tool_choice in ("auto", "none") else None
        if not tools and response is None:
            return GrammarPlan()
        rules: list[str] = []
        alts: list[str] = []  # what the turn may start with
        need_text = False
        if response is not None:
            rules += response[0]
            alts.append(f"{literal(ALL + NL)} {response[1]}")
        elif ctx.tool_choice == "auto":
            need_text = True
            alts.append(f"{literal(ALL + NL)} text")
        if tools:
            body, roots = args_rules(grammars, tools)
            rules += body
            calls = []
            for name, root in roots.items():
                if name == PYTHON:  # raw code, or JSON arguments if the model prefers
                    need_text = True
                    root = f"( {root} | code )"
                calls.append(f"( {literal(name + NL)} {root} )")
            if PYTHON in roots:
                rules.append("code ::= [^{> \\t\\r\\n] text")  # `{` would read as JSON
            rules.append("call ::= " + " | ".join(calls))
            n = max_calls(ctx, model, grammars)
            more = f"( {literal(SEP)} call )"
            alts = [f"{a} {repeat(more, 0, n)}" for a in alts]
            alts.append(f"call {repeat(more, 0, n - 1)}")
        if need_text:
            rules.append(TEXT_RULE)
        # the template's end of turn, as text: a model without it as a special token can
        # end the turn after a call (it is a stop word, so it never reaches the output)
        rules.insert(0, "root ::= ( " + " | ".join(f"( {a} )" for a in alts)
                     + f" ) {literal(EOT)}?")
        return GrammarPlan(grammar="\n".join(rules) + "\n")

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        names = {t.name for t in ctx.tools} if offered_tools(ctx) else set()
        return V32Parser(names)


class V32Parser(SegmentParser):
    """Reads the recipient up to the newline: `all` → content until the next `>>>`; a known
    tool → a call whose JSON arguments stream as they come (python: raw code → {"code"});
    anything else (unknown recipient, no JSON) is content with its header, never dropped.
    A call cut off inside its arguments stays incomplete (finish_reason "length")."""

    def __init__(self, names: set[str]) -> None:
        super().__init__(names, [SEP], "header")  # header | content | open | args | close | code
        self._first = True  # the first header's `>>>` is in the prompt, not the output

    def _finish_held(self, out: list[Delta]) -> None:
        if self._state == "header":
            _content(out, self._header())
        elif self._state == "open":
            _content(out, self._header() + "\n" + self._buf)

    def _header(self) -> str:
        prefix = "" if self._first else SEP
        return prefix + (self._name if self._state == "open" else self._buf)

    def _next_segment(self) -> None:
        self._state, self._buf, self._name, self._first = "header", "", "", False

    def _on_header(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker:
            if self._buf or not self._first:  # `>>>` after `>>>x`: x was no recipient
                _content(out, self._header())
            return self._next_segment()
        for i, c in enumerate(piece):
            if c == "\n":
                name, self._buf = self._buf, ""
                if name == ALL:
                    self._state = "content"
                elif name in self._names:
                    self._name, self._state = name, "open"
                else:  # not a recipient we know: the segment is content, header included
                    _content(out, ("" if self._first else SEP) + name + "\n")
                    self._state = "content"
                return self._piece(False, piece[i + 1:], out) if i + 1 < len(piece) else None
            if not valid_name_char(c) or len(self._buf) >= MAX_NAME:
                _content(out, self._header() + piece[i:])
                self._state, self._buf = "content", ""
                return None
            self._buf += c
        return None

    def _on_content(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker:
            return self._next_segment()
        return _content(out, piece)

    def _on_open(self, marker: bool, piece: str, out: list[Delta]) -> None:
        """After `name\\n`: JSON arguments open with `{`; for python, anything else is code."""
        if marker:
            _content(out, self._header() + "\n" + self._buf)
            return self._next_segment()
        stripped = piece.lstrip()
        if not stripped:
            self._buf += piece
            return None
        if stripped[0] == "{":
            out.append(Delta("tool_start", index=self._index, id=new_call_id(), name=self._name))
            self._args, self._buf, self._state = JsonArgs(self._index), "", "args"
            return self._on_args(False, stripped, out)
        if self._name == PYTHON:
            out += code_start(self._index)
            out += code_chunk(self._index, self._buf + piece)
            self._buf, self._state = "", "code"
            return None
        _content(out, self._header() + "\n" + self._buf + piece)
        self._state, self._buf = "content", ""
        return None

    def _on_args(self, marker: bool, piece: str, out: list[Delta]) -> None:
        assert self._args is not None
        out += self._args.feed(piece)  # `>>>` inside a JSON string is JSON text
        if self._args.done or self._args.failed:
            rest = self._args.take_rest()
            failed = self._args.failed
            self._args, self._index = None, self._index + 1
            self._state, self._buf = ("content" if failed else "close"), ""
            if rest:
                self._piece(False, rest, out)

    def _on_close(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker:
            return self._next_segment()
        if not piece.strip():
            self._buf += piece
            return None
        _content(out, self._buf + piece)  # text after the JSON, in the same segment
        self._state, self._buf = "content", ""
        return None

    def _on_code(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if marker:
            out += code_end(self._index)
            self._index += 1
            return self._next_segment()
        out += code_chunk(self._index, piece)
        return None


__all__ = ["FunctionaryV32", "V32Parser"]
