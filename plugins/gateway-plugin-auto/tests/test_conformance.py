"""The core's conformance suite, once per syntax family, with goldens rendered by the real
templates: what the model writes is what the template writes for the same calls."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from auto_helpers import context, load, spec_of, written
from gateway.dialect import ToolDef, assemble
from gateway.testing import CLOCK, WEATHER, DialectCase, DialectConformance, Golden, parse_all
from gateway_plugin_auto import DIALECT

SETTINGS = ToolDef("set_options", "Options", {"type": "object", "properties": {
    "n": {"type": "integer"}, "on": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}}, "zip": {"type": "string"}},
    "required": ["n"]})
PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
TIME = ("get_time", {})
TYPED = ("set_options", {"n": 3, "on": True, "tags": ["a", "b"], "zip": "01234"})


def section(file: str, calls: list[tuple[str, dict[str, Any]]]) -> str:
    """What the template writes for the calls, from the trigger on (no reasoning block)."""
    text = written(load(file), calls)
    return text[text.index(spec_of(load(file)).trigger):]


def family(file: str, reasoning: str = "") -> list[Golden]:
    """Goldens every family shares, rendered through the family's template. `reasoning`:
    what the model writes first when the generation prompt opened a reasoning block."""
    t = load(file)
    spec = spec_of(t)
    say = (lambda text: reasoning + text) if reasoning else (lambda text: text)
    rsn = reasoning.split(spec.think[1])[0].strip() if reasoning and spec.think else None
    one = written(t, [PARIS])
    trig = spec.trigger
    section = one[one.index(trig):]
    cut = one[: one.index("Par") + 3]
    several = [PARIS, TIME] if not spec.single_call else [PARIS]
    goldens = [
        Golden("one call", say(one), reasoning=rsn, calls=[PARIS]),
        Golden("empty arguments", say(written(t, [TIME])), reasoning=rsn, calls=[TIME],
               tags={"empty_arguments"}),
        Golden("several calls", say(written(t, several)), reasoning=rsn, calls=several,
               tags={"several_calls"}),
        Golden("typed arguments", say(written(t, [TYPED])), reasoning=rsn, calls=[TYPED]),
        Golden("plain answer", say("  It is sunny.\n"), reasoning=rsn,
               content="  It is sunny.\n" if not rsn else "It is sunny.\n"),
        Golden("cut inside a string value", say(cut), reasoning=rsn,
               calls=[("get_weather", {"city": "Par"})], tags={"malformed"}),
        Golden("trigger, then no call", say("Sure " + trig + "oops"), reasoning=rsn,
               content="Sure " + trig + "oops", tags={"malformed"}),
        Golden("half a trigger at the end", say("Hello " + trig[:-1]), reasoning=rsn,
               content="Hello " + trig[:-1], tags={"malformed"}),
        Golden("tool_choice none: calls are text", say(section), reasoning=rsn,
               content=section.removesuffix(spec.turn_end) if spec.turn_end else section,
               ctx={"tool_choice": "none"}),
    ]
    # text before calls: as the template writes it, or (where its history drops the text)
    # as a model may still write it
    text = written(t, [PARIS], content="Let me check.") if spec.content != "dropped" else \
        "Let me check.\n" + section
    goldens.append(Golden("content and a call", say(text), reasoning=rsn,
                          content="Let me check.", calls=[PARIS], tags={"content_before_call"}))
    return goldens


class AutoConformance(DialectConformance):
    dialect = DIALECT
    tools: ClassVar[list[ToolDef]] = [WEATHER, CLOCK, SETTINGS]
    template_file: ClassVar[str]
    exceptions: ClassVar[dict[str, str]] = {
        "test_goldens_match_grammar": "the goldens are the templates' own renderings (JSON "
                                      "with spaces); test_grammar.py checks the grammar on "
                                      "what the model writes under it"}

    def context(self, golden: Golden) -> DialectCase:
        return super().context(golden).replace(template=load(self.template_file))


class TestQwen3CoderXmlParameters(AutoConformance):
    template_file = "Qwen-Qwen3-Coder.jinja"
    code = "a < b\n\nif x:\n    return '</p>'"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("a code value with markup and blank lines",
               written(load(template_file), [("get_weather", {"city": code})]),
               calls=[("get_weather", {"city": code})]),
        Golden("a string that looks like JSON stays a string",
               written(load(template_file), [("get_weather", {"city": "[1, 2]"})]),
               calls=[("get_weather", {"city": "[1, 2]"})]),
        Golden("no function tag", "<tool_call>\n<fun x</tool_call>",
               content="<tool_call>\n<fun x</tool_call>", tags={"malformed"}),
        Golden("cut after the name", "<tool_call>\n<function=get_time>",
               calls=[TIME], tags={"malformed"}),
        Golden("compact, without newlines",
               "<tool_call><function=get_weather><parameter=city>Paris</parameter>"
               "</function></tool_call>", calls=[("get_weather", {"city": "Paris"})]),
        Golden("text after the calls", written(load(template_file), [TIME]) + "\nDone.",
               content="Done.", calls=[TIME]),
    ]


class TestGlmArgKeyValue(AutoConformance):
    template_file = "zai-org-GLM-4.6.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("reasoning then a call",
               "<think>The user wants weather.</think>\n" + section(template_file, [PARIS]),
               reasoning="The user wants weather.", calls=[PARIS]),
        Golden("unclosed reasoning", "<think>still thinking", reasoning="still thinking",
               tags={"malformed"}),
        Golden("a value cut before its key ends", "<tool_call>get_weather\n<arg_key>ci",
               calls=[("get_weather", {})], tags={"malformed"}),
    ]


class TestKimiSectionTokens(AutoConformance):
    template_file = "moonshotai-Kimi-K2-Instruct.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("the model's own counter",
               "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_time:7"
               "<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>",
               calls=[TIME]),
        Golden("broken json after the call started",
               "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_time:0"
               "<|tool_call_argument_begin|>{} x", calls=[TIME], content="x",
               tags={"malformed"}),
        Golden("escapes in arguments",
               "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
               '<|tool_call_argument_begin|>{"city": "S\\u00e3o \\"P\\""}<|tool_call_end|>'
               "<|tool_calls_section_end|>", calls=[("get_weather", {"city": 'São "P"'})]),
    ]


class TestLfmPythonicList(AutoConformance):
    template_file = "LiquidAI-LFM2.5-8B-A1B.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("a quote and a comma inside a string", "<|tool_call_start|>[get_weather("
               "city='it, is', unit='c')]<|tool_call_end|>",
               calls=[("get_weather", {"city": "it, is", "unit": "c"})]),
    ]


class TestMiniMaxInvokeForcedThink(AutoConformance):
    template_file = "MiniMaxAI-MiniMax-M2.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file, reasoning="Weather needed.\n</think>\n\n"),
        Golden("a call without closing the reasoning",
               "r\n" + written(load(template_file), [TIME]), reasoning="r", calls=[TIME]),
    ]


class TestMistralCallIds(AutoConformance):
    template_file = "Mistral-Small-3.2-24B-Instruct-2506.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("an id the model made up", '[TOOL_CALLS]get_time[CALL_ID]aB3dE6gH9[ARGS]{}',
               calls=[TIME]),
        Golden("cut inside the id", "[TOOL_CALLS]get_time[CALL_ID]aB3",
               calls=[TIME], tags={"malformed"}),
    ]


class TestGemma4TextAfterCalls(AutoConformance):
    template_file = "google-gemma-4-31B-it.jinja"
    goldens: ClassVar[list[Golden]] = [
        *family(template_file),
        Golden("text after the calls, then the turn's end",
               written(load(template_file), [TIME]) + "Checking.<|tool_response>",
               content="Checking.", calls=[TIME]),
    ]


class TestHermesJsonInTags(AutoConformance):
    template_file = "Qwen-Qwen2.5-7B-Instruct.jinja"
    goldens: ClassVar[list[Golden]] = [*family(template_file)]


def test_typed_values_follow_the_schema() -> None:
    """Raw text becomes JSON by the parameter's type; a string-typed one stays a string."""
    ctx = context(load("Qwen-Qwen3-Coder.jinja"), [SETTINGS])

    text = ("<tool_call>\n<function=set_options>\n<parameter=n>\n3\n</parameter>\n"
            "<parameter=on>\nTrue\n</parameter>\n<parameter=zip>\n01234\n</parameter>\n"
            "<parameter=extra>\n{\"a\": 1}\n</parameter>\n"
            "<parameter=note>\nit's [fine\n</parameter>\n</function>\n</tool_call>")
    got = assemble(parse_all(ctx, [text]))
    args: dict[str, Any] = json.loads(got.tool_calls[0].arguments)
    assert args == {"n": 3, "on": True, "zip": "01234", "extra": {"a": 1},
                    "note": "it's [fine"}  # not in the schema, not JSON: kept as text
