"""The core's dialect conformance suite, once per output variant of the hermes family."""

from __future__ import annotations

from typing import ClassVar

from gateway.templating import ChatTemplate
from gateway.testing import DialectConformance, Golden, shared_template
from gateway_plugin_hermes import HermesDialect

W = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'
T = '{"name": "get_time", "arguments": {}}'


def block(call: str, nl: str = "\n") -> str:
    return f"<tool_call>{nl}{call}{nl}</tool_call>"


PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
# What the grammar lets the model write: the head as templates render it, compact arguments.
W_GRAMMAR = '{"name": "get_weather", "arguments": {"city":"Paris","unit":"c"}}'


class TestHermes3(DialectConformance):
    """Hermes 2 Pro / Hermes 3: the call alone, one block per call."""

    dialect = HermesDialect()
    template = shared_template("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("one call", block(W), calls=[PARIS]),
        Golden("as the grammar writes it", "Checking.\n" + block(W_GRAMMAR) + "\n" + block(T),
               content="Checking.", calls=[PARIS, ("get_time", {})], grammar=True),
        Golden("empty arguments", block(T), calls=[("get_time", {})], tags={"empty_arguments"}),
        Golden("two calls", block(W) + "\n" + block(T) + "\n", calls=[PARIS, ("get_time", {})],
               tags={"several_calls"}),
        Golden("content first", "Let me check.\n" + block(W), content="Let me check.",
               calls=[PARIS], tags={"content_before_call"}),
        Golden("plain answer", "  It is sunny.\n", content="  It is sunny.\n"),
        Golden("arguments before name",
               block('{"arguments": {"city": "Paris", "unit": "c"}, "name": "get_weather"}'),
               calls=[PARIS]),
        Golden("no closing tag", "<tool_call>\n" + T, calls=[("get_time", {})]),
        Golden("content after a call", block(T) + "\nDone.", content="Done.",
               calls=[("get_time", {})]),
        Golden("escapes in arguments",
               block('{"name": "get_weather", "arguments": {"city": "S\\u00e3o \\"P\\""}}'),
               calls=[("get_weather", {"city": 'São "P"'})]),
        Golden("not json", "Sure <tool_call>oops</tool_call> ok",
               content="Sure <tool_call>oops</tool_call> ok", tags={"malformed"}),
        Golden("cut before the name", "Hi\n<tool_call>\n{\"nam", content="Hi\n<tool_call>\n{\"nam",
               tags={"malformed"}),
        Golden("no name", block('{"arguments": {}}'), content=block('{"arguments": {}}'),
               tags={"malformed"}),
        Golden("cut inside arguments", '<tool_call>\n{"name": "get_weather", "arguments": '
               '{"city": "Par', calls=[("get_weather", {"city": "Par"})], tags={"malformed"}),
        Golden("cut after a key", '<tool_call>\n{"name": "get_weather", "arguments": '
               '{"city": "Paris", "unit"', calls=[("get_weather", {"city": "Paris"})],
               tags={"malformed"}),
        Golden("bad scalar", '<tool_call>\n{"name": "get_weather", "arguments": {"city": tru}}'
               '\n</tool_call>', calls=[("get_weather", {"city": None})], tags={"malformed"}),
        Golden("tool_choice none: calls are text", block(T), content=block(T),
               ctx={"tool_choice": "none"}),
    ]


class TestQwen25(DialectConformance):
    """Qwen 2.5: content, then "\\n" and the calls, as its template renders history."""

    dialect = HermesDialect()
    template = shared_template("Qwen-Qwen2.5-7B-Instruct.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("one call, as the grammar writes it", block(W_GRAMMAR), calls=[PARIS],
               grammar=True),
        Golden("content then calls", "I will look.\n" + block(W) + "\n" + block(T),
               content="I will look.", calls=[PARIS, ("get_time", {})],
               tags={"content_before_call", "several_calls"}),
        Golden("empty arguments", block(T), calls=[("get_time", {})], tags={"empty_arguments"}),
        Golden("compact json, no newlines",
               '<tool_call>{"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}'
               "</tool_call>", calls=[PARIS]),
        Golden("arguments as a string",
               block('{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}'),
               calls=[("get_weather", {"city": "Paris"})]),
        Golden("broken json after the call started",
               '<tool_call>\n{"name": "get_time", "arguments": {} x</tool_call>',
               calls=[("get_time", {})], content="x</tool_call>", tags={"malformed"}),
        Golden("half a marker at the end", "Hello <tool_ca", content="Hello <tool_ca",
               tags={"malformed"}),
    ]


class TestQwen3Think(DialectConformance):
    """Qwen 3: an optional `<think>` block opens the output, a call may follow."""

    dialect = HermesDialect()
    template = shared_template("Qwen-Qwen3-0.6B.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("think then call, as the grammar writes it", "<think>\nhm\n</think>\n\n"
               + block(W_GRAMMAR), reasoning="hm", calls=[PARIS], grammar=True),
        Golden("think then call", "<think>\nThe user wants weather.\n</think>\n\n" + block(W),
               reasoning="The user wants weather.", calls=[PARIS]),
        Golden("think, content, calls", "<think>\nhm\n</think>\n\nChecking.\n" + block(W)
               + "\n" + block(T), reasoning="hm", content="Checking.",
               calls=[PARIS, ("get_time", {})], tags={"content_before_call", "several_calls"}),
        Golden("empty think, empty args", "<think>\n\n</think>\n\n" + block(T),
               calls=[("get_time", {})], tags={"empty_arguments"}),
        Golden("think, answer", "<think>\nx < y\n</think>\n\nIt is 3.", reasoning="x < y",
               content="It is 3."),
        Golden("<think> later is text", "a <think>b</think>", content="a <think>b</think>"),
        Golden("unclosed think", "<think>\nstill thinking", reasoning="still thinking",
               tags={"malformed"}),
    ]


class TestQwQForcedThink(DialectConformance):
    """QwQ: the generation prompt ends in `<think>\\n`, so output starts as reasoning."""

    dialect = HermesDialect()
    template: ClassVar[ChatTemplate | None] = shared_template("Qwen-QwQ-32B.jinja")

    goldens: ClassVar[list[Golden]] = [
        Golden("reasoning then call", "Weather needed.\n</think>\n\n" + block(W),
               reasoning="Weather needed.", calls=[PARIS]),
        Golden("reasoning then call, as the grammar writes it", "r\n</think>\n\n" +
               block(W_GRAMMAR), reasoning="r", calls=[PARIS], grammar=True),
        Golden("reasoning, content, calls", "r\n</think>\n\nOK.\n" + block(T) + "\n" + block(W),
               reasoning="r", content="OK.", calls=[("get_time", {}), PARIS],
               tags={"content_before_call", "several_calls", "empty_arguments"}),
        Golden("call without closing think", "r\n" + block(T), reasoning="r",
               calls=[("get_time", {})]),
        Golden("broken call", "r</think><tool_call>{]", reasoning="r",
               content="<tool_call>{]", tags={"malformed"}),
    ]
