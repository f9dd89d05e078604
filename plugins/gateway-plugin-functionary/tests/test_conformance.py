"""Both dialects against the core's conformance suite, with golden outputs."""

from __future__ import annotations

from gateway.dialect import ToolDef, assemble
from gateway.testing import (
    CLOCK,
    WEATHER,
    DialectConformance,
    Golden,
    make_case,
    parse_all,
    shared_template,
)
from gateway_plugin_functionary import V31, V32

PY = ToolDef("python", "Run Python code", {
    "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})
WITH_PY = {"tools": [WEATHER, CLOCK, PY]}
W = "get_weather"


class TestFunctionaryV31(DialectConformance):
    dialect = V31
    template = shared_template("meetkai-functionary-medium-v3.1.jinja")
    goldens = [
        Golden("one call", f'<function={W}>{{"city": "Paris", "unit": "c"}}</function>',
               calls=[(W, {"city": "Paris", "unit": "c"})]),
        Golden("empty arguments", "<function=get_time>{}</function>",
               calls=[("get_time", {})], tags={"empty_arguments"}, grammar=True),
        Golden("several calls back to back",
               f'<function={W}>{{"city":"Oslo \\"N\\" \u00e9"}}</function>'
               "<function=get_time>{}</function>",
               calls=[(W, {"city": 'Oslo "N" \u00e9'}), ("get_time", {})],
               tags={"several_calls"}, grammar=True),
        Golden("content before a call", "Let me check.\n<function=get_time>{}</function>",
               content="Let me check.\n", calls=[("get_time", {})],
               tags={"content_before_call"}, grammar=True),
        Golden("markup inside a JSON string",
               f'<function={W}>{{"city":"a</function><function=b"}}</function>',
               calls=[(W, {"city": "a</function><function=b"})]),
        Golden("whitespace around the JSON", f'<function={W}> {{"city": "Rome"}} </function>',
               calls=[(W, {"city": "Rome"})]),
        Golden("missing </function> before the next call",
               "<function=get_time>{}<function=get_time>{}",
               calls=[("get_time", {}), ("get_time", {})], tags={"several_calls"}),
        Golden("python code after the tag", '<|python_tag|>print("hi")\nx = 1 < 2',
               calls=[("python", {"code": 'print("hi")\nx = 1 < 2'})], ctx=WITH_PY),
        Golden("python tag without a python tool is content", "<|python_tag|>print(1)",
               content="<|python_tag|>print(1)"),
        Golden("plain text", "Hello <b>there</b>, 1 < 2 > 0",
               content="Hello <b>there</b>, 1 < 2 > 0"),
        Golden("tool_choice none: markup is content", "<function=get_time>{}</function>",
               content="<function=get_time>{}</function>", ctx={"tool_choice": "none"}),
        Golden("truncated name", "Sure <function=get_wea", content="Sure <function=get_wea",
               tags={"malformed"}),
        Golden("unknown function", "<function=nope>{}</function>",
               content="<function=nope>{}</function>", tags={"malformed"}),
        Golden("no JSON after the name", "<function=get_time> now</function>",
               content="<function=get_time> now</function>", tags={"malformed"}),
        Golden("bad name", "<function=get time>{}</function>x",
               content="<function=get time>{}</function>x", tags={"malformed"}),
        Golden("name never closed", "<function=get_time", content="<function=get_time",
               tags={"malformed"}),
    ]


class TestFunctionaryV32(DialectConformance):
    dialect = V32
    template = shared_template("meetkai-functionary-medium-v3.2.jinja")
    goldens = [
        Golden("one call", f'{W}\n{{"city": "Paris", "unit": "c"}}',
               calls=[(W, {"city": "Paris", "unit": "c"})]),
        Golden("empty arguments", "get_time\n{}", calls=[("get_time", {})],
               tags={"empty_arguments"}, grammar=True),
        Golden("several calls", f'{W}\n{{"city":"Oslo \\"N\\" \u00e9"}}\n>>>get_time\n{{}}',
               calls=[(W, {"city": 'Oslo "N" \u00e9'}), ("get_time", {})],
               tags={"several_calls"}),
        Golden("content before a call", "all\nLet me check.\n>>>get_time\n{}",
               content="Let me check.\n", calls=[("get_time", {})],
               tags={"content_before_call"}, grammar=True),
        Golden("text only", "all\nHello > there >> ok", content="Hello > there >> ok"),
        Golden("separator inside a JSON string", f'{W}\n{{"city":"a>>>b"}}',
               calls=[(W, {"city": "a>>>b"})]),
        Golden("the model repeats the prompt's >>>", ">>>all\nhi", content="hi"),
        Golden("python raw code", "python\nprint({1: 2})\n>>>get_time\n{}",
               calls=[("python", {"code": "print({1: 2})\n"}), ("get_time", {})], ctx=WITH_PY),
        Golden("python with JSON arguments", 'python\n{"code": "1+1"}',
               calls=[("python", {"code": "1+1"})], ctx=WITH_PY),
        Golden("text after the JSON", "get_time\n{} done", content=" done",
               calls=[("get_time", {})]),
        Golden("tool_choice none: calls are content", "get_time\n{}",
               content="get_time\n{}", ctx={"tool_choice": "none"}),
        Golden("no tools: the all header is stripped", "all\nHi!", content="Hi!",
               ctx={"tools": []}),
        Golden("unknown recipient", 'nope\n{"a":1}', content='nope\n{"a":1}',
               tags={"malformed"}),
        Golden("no header at all", "Hello there", content="Hello there", tags={"malformed"}),
        Golden("truncated header", "all\nok>>>get_wea", content="ok>>>get_wea",
               tags={"malformed"}),
        Golden("no JSON after a tool name", "get_time\nnow", content="get_time\nnow",
               tags={"malformed"}),
        Golden("empty segment", "get_time\n>>>all\nx", content="get_time\nx",
               tags={"malformed"}),
    ]


def _parse(dialect, text: str, **kw):
    ctx = make_case(dialect, [WEATHER, CLOCK], messages=[], **kw)
    return assemble(parse_all(ctx, list(text)))


def test_arguments_stream_before_the_call_ends():
    """tool_args deltas arrive while the JSON is still being generated, not at the end."""
    for dialect, head in ((V31, f"<function={W}>"), (V32, f"{W}\n")):
        ctx = make_case(dialect, [WEATHER, CLOCK], messages=[])
        parser = ctx.parser()
        out = parser.feed(head + '{"city": "Par')
        assert [d.kind for d in out][:1] == ["tool_start"] and out[0].name == W
        assert "".join(d.text for d in out if d.kind == "tool_args") == '{"city":"Par'


def test_truncated_arguments_are_the_documented_limit():
    """A call cut off inside its JSON (max_tokens) keeps what was streamed; the core turns
    such a non-streamed answer into text (finish_reason length)."""
    got = _parse(V31, f'<function={W}>{{"city": "Pa')
    assert got.tool_calls[0].arguments == '{"city":"Pa'
