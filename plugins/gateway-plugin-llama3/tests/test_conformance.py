"""The core's dialect conformance suite with goldens in the Llama 3.x call forms."""

from __future__ import annotations

from typing import ClassVar

from gateway.dialect import ToolDef
from gateway.testing import CLOCK, WEATHER, DialectConformance, Golden, shared_template
from gateway_plugin_llama3 import Llama3Dialect

SEARCH = ToolDef("brave_search", "Search the web", {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
CODE = ToolDef("code_interpreter", "Run Python", {
    "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})
W = '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}'
T = '{"name": "get_time", "parameters": {}}'
PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
# Llama 3.x templates raise on a message with several calls: history splits them into one
# call per assistant turn (the core's split_calls fix), so one turn never shows two calls.
ONE_CALL_PER_TURN = {"test_round_trip_several_calls": "one call per assistant turn in history "
                     "(the template raises on more; the core splits them)"}
TIME = ("get_time", {})


class TestLlama3Json(DialectConformance):
    """JSON calls as the Llama 3.x templates render them (the whole message)."""

    dialect = Llama3Dialect()
    exceptions: ClassVar[dict[str, str]] = ONE_CALL_PER_TURN
    template = shared_template("meta-llama-Llama-3.2-3B-Instruct.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("as the grammar writes it", '{"name": "get_weather", "parameters": '
               '{"city":"Paris","unit":"c"}}', calls=[PARIS], grammar=True),
        Golden("one call", W, calls=[PARIS]),
        Golden("empty parameters", T, calls=[TIME], tags={"empty_arguments"}),
        Golden("two calls, one a line", W + "\n" + T, calls=[PARIS, TIME],
               tags={"several_calls"}),
        Golden("two calls with ;", W + "; " + T, calls=[PARIS, TIME]),
        Golden("content first", "Let me check.\n" + W, content="Let me check.", calls=[PARIS],
               tags={"content_before_call"}),
        Golden("arguments key and type", '{"type": "function", "name": "get_time", '
               '"arguments": "{}"}', calls=[TIME]),
        Golden("after python_tag", "<|python_tag|>" + T, calls=[TIME]),
        Golden("compact", '{"name":"get_weather","parameters":{"city":"Paris","unit":"c"}}',
               calls=[PARIS]),
        Golden("content after", T + "\nDone.", content="Done.", calls=[TIME]),
        Golden("plain answer", "  It is {sunny}.\n", content="  It is {sunny}.\n"),
        Golden("JSON that is no call", 'Bob: {"name": "Bob", "age": 3} ok',
               content='Bob: {"name": "Bob", "age": 3} ok'),
        Golden("cut off", '{"name": "get_weather", "parameters": {"ci',
               content='{"name": "get_weather", "parameters": {"ci', tags={"malformed"}),
        Golden("broken JSON", '{"name": "get_time", "parameters": {]} x',
               content='{"name": "get_time", "parameters": {]} x', tags={"malformed"}),
        Golden("half a marker", "Hi {\"nam", content="Hi {\"nam", tags={"malformed"}),
        Golden("tool_choice none: calls are text", T, content=T, ctx={"tool_choice": "none"}),
    ]


class TestLlama3Builtins(DialectConformance):
    """<|python_tag|> calls of Meta's built-in tools (Llama 3.1 / 3.3)."""

    dialect = Llama3Dialect()
    exceptions: ClassVar[dict[str, str]] = ONE_CALL_PER_TURN
    template = shared_template("meta-llama-Llama-3.3-70B-Instruct.jinja")
    tools: ClassVar[list[ToolDef]] = [WEATHER, CLOCK, SEARCH, CODE]
    goldens: ClassVar[list[Golden]] = [
        Golden("search as the grammar writes it",
               '<|python_tag|>brave_search.call(query="weather in Paris")',
               calls=[("brave_search", {"query": "weather in Paris"})], grammar=True),
        Golden("search", '<|python_tag|>brave_search.call(query="weather in Paris")',
               calls=[("brave_search", {"query": "weather in Paris"})]),
        Golden("search, eom", "<|python_tag|>brave_search.call(query='x \\' y')<|eom_id|>",
               calls=[("brave_search", {"query": "x ' y"})]),
        Golden("code", "<|python_tag|>import math\nprint(math.pi < 4)",
               calls=[("code_interpreter", {"code": "import math\nprint(math.pi < 4)"})]),
        Golden("content, a JSON call, then search", "Sure.\n" + T +
               '\n<|python_tag|>brave_search.call(query="q")', content="Sure.",
               calls=[TIME, ("brave_search", {"query": "q"})],
               tags={"content_before_call", "several_calls", "empty_arguments"}),
        Golden("empty python tag", "<|python_tag|>", content="<|python_tag|>",
               tags={"malformed"}),
    ]


class TestLlama3NoCodeTool(DialectConformance):
    dialect = Llama3Dialect()
    exceptions: ClassVar[dict[str, str]] = ONE_CALL_PER_TURN
    template = shared_template("meta-llama-Llama-3.2-3B-Instruct.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("as the grammar writes it", T, calls=[TIME], grammar=True),
        Golden("code without a code tool is text", "<|python_tag|>print(1)",
               content="<|python_tag|>print(1)", tags={"malformed"}),
        Golden("unknown built-in", 'Hm <|python_tag|>wolfram_alpha.call(query="1+1")',
               content='Hm <|python_tag|>wolfram_alpha.call(query="1+1")'),
        Golden("a call", W + "\n" + T, calls=[PARIS, TIME],
               tags={"several_calls", "empty_arguments"}),
        Golden("content first", "x\n" + T, content="x", calls=[TIME],
               tags={"content_before_call"}),
    ]
