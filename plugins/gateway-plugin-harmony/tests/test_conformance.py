"""The core's dialect conformance suite with goldens in the real Harmony format."""

from __future__ import annotations

from typing import ClassVar

from gateway.testing import DialectConformance, Golden, shared_template
from gateway_plugin_harmony import HarmonyDialect

S = "<|start|>assistant"
W = '{"city":"Paris","unit":"c"}'
PARIS = ("get_weather", {"city": "Paris", "unit": "c"})


def call(name: str, args: str, channel_first: bool = False) -> str:
    """A call message as the model writes it after the prompt's `<|start|>assistant`."""
    if channel_first:
        return f"<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{args}"
    return f" to=functions.{name}<|channel|>commentary json<|message|>{args}"


def analysis(text: str) -> str:
    return f"<|channel|>analysis<|message|>{text}<|end|>{S}"


class TestHarmony(DialectConformance):
    dialect = HarmonyDialect()
    template = shared_template("openai-gpt-oss-120b.jinja")
    exceptions: ClassVar[dict[str, str]] = {
        "test_round_trip_several_calls": "one call per turn: a call message ends in <|call|>, "
                                         "where llama.cpp stops"}
    goldens: ClassVar[list[Golden]] = [
        Golden("one call (template order)", call("get_weather", W), calls=[PARIS],
               grammar=True),
        Golden("one call (trained order) ending in <|call|>",
               call("get_weather", W, channel_first=True) + "<|call|>", calls=[PARIS]),
        Golden("analysis then call", analysis("The user wants weather, x < y.") +
               call("get_weather", '{"city": "Paris", "unit": "c"}'),
               reasoning="The user wants weather, x < y.", calls=[PARIS]),
        Golden("empty arguments", call("get_time", "{}"), calls=[("get_time", {})],
               tags={"empty_arguments"}, grammar=True),
        Golden("two call messages (if <|call|> does not stop generation)",
               call("get_weather", W) + "<|call|>" + S + call("get_time", "{}") + "<|call|>",
               calls=[PARIS, ("get_time", {})], tags={"several_calls"}),
        Golden("preamble then call",
               "<|channel|>commentary<|message|>Let me check.<|end|>" + S + call("get_time", "{}"),
               content="Let me check.", calls=[("get_time", {})], tags={"content_before_call"}),
        Golden("analysis then final", analysis("Easy.") +
               "<|channel|>final<|message|>It is <b>sunny</b>.\n<|return|>",
               content="It is <b>sunny</b>.\n", reasoning="Easy."),
        Golden("final without analysis, cut before <|return|>",
               "<|channel|>final<|message|>Hi <|there", content="Hi <|there"),
        Golden("analysis only, generation stopped at <|end|>", analysis("thinking")[:-len(S)],
               reasoning="thinking"),
        Golden("plain text, no format", "  It is sunny.\n", content="  It is sunny.\n"),
        Golden("plain text starting like a recipient", "to be honest, yes",
               content="to be honest, yes"),
        Golden("cut-off call arguments", call("get_weather", '{"city": "Par'),
               content=call("get_weather", '{"city": "Par'), tags={"malformed"}),
        Golden("arguments not an object", analysis("x") + call("get_time", "[1]"),
               content=S + call("get_time", "[1]"), reasoning="x", tags={"malformed"}),
        Golden("unknown channel header", "<|channel|>secret<|message|>boo",
               content="<|channel|>secret<|message|>boo", tags={"malformed"}),
        Golden("call when tools are not offered", call("get_time", "{}"),
               content=call("get_time", "{}"), ctx={"tool_choice": "none"}),
    ]
