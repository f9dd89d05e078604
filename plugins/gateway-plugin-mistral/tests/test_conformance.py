"""The core's dialect conformance suite with goldens in each Mistral call shape."""

from __future__ import annotations

from typing import ClassVar

from gateway.testing import DialectConformance, Golden, shared_template
from gateway_plugin_mistral import MistralDialect

W = '{"city": "Paris", "unit": "c"}'
PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
W_GRAMMAR = '{"city":"Paris","unit":"c"}'  # arguments as the grammar lets the model write them
TIME = ("get_time", {})


def item(name: str, args: str, call_id: str = "a1B2c3D4e") -> str:
    return f'{{"name": "{name}", "arguments": {args}, "id": "{call_id}"}}'


class TestNemoArray(DialectConformance):
    """Mistral Nemo: one `[TOOL_CALLS]` and a JSON array of calls with their ids."""

    dialect = MistralDialect()
    template = shared_template("mistralai-Mistral-Nemo-Instruct-2407.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("as the grammar writes it", '[TOOL_CALLS][{"name": "get_weather", "arguments": '
               + W_GRAMMAR + ', "id": "a1B2c3D4e"}]', calls=[PARIS], grammar=True),
        Golden("one call", f"[TOOL_CALLS][{item('get_weather', W)}]", calls=[PARIS]),
        Golden("two calls", f"[TOOL_CALLS][{item('get_weather', W)}, "
               f"{item('get_time', '{}', 'zzzzzzzz9')}]", calls=[PARIS, TIME],
               tags={"several_calls", "empty_arguments"}),
        Golden("content first", "Let me look.\n[TOOL_CALLS][" + item("get_time", "{}") + "]",
               content="Let me look.", calls=[TIME], tags={"content_before_call"}),
        Golden("no id, compact", '[TOOL_CALLS][{"name":"get_time","arguments":{}}]',
               calls=[TIME]),
        Golden("arguments as a JSON string", '[TOOL_CALLS][{"name": "get_weather", '
               '"arguments": "{\\"city\\": \\"Paris\\", \\"unit\\": \\"c\\"}"}]', calls=[PARIS]),
        Golden("plain answer", "  It is [sunny].\n", content="  It is [sunny].\n"),
        Golden("cut off", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"ci',
               content='[TOOL_CALLS][{"name": "get_weather", "arguments": {"ci',
               tags={"malformed"}),
        Golden("not calls", "[TOOL_CALLS][1, 2] rest", content="[TOOL_CALLS][1, 2] rest",
               tags={"malformed"}),
        Golden("tool_choice none: calls are text", f"[TOOL_CALLS][{item('get_time', '{}')}]",
               content=f"[TOOL_CALLS][{item('get_time', '{}')}]", ctx={"tool_choice": "none"}),
    ]


class TestSmall32CallId(DialectConformance):
    """Mistral Small 3.2: `[TOOL_CALLS]NAME[CALL_ID]id[ARGS]{...}` per call."""

    dialect = MistralDialect()
    template = shared_template("Mistral-Small-3.2-24B-Instruct-2506.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("as the grammar writes it", "[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e[ARGS]"
               + W_GRAMMAR, calls=[PARIS], grammar=True),
        Golden("one call", f"[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e[ARGS]{W}",
               calls=[PARIS]),
        Golden("content then two calls", "Checking.[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e"
               f"[ARGS]{W}[TOOL_CALLS]get_time[CALL_ID]b1B2c3D4e[ARGS]{{}}",
               content="Checking.", calls=[PARIS, TIME],
               tags={"content_before_call", "several_calls", "empty_arguments"}),
        Golden("same id twice gets a fresh one", "[TOOL_CALLS]get_time[CALL_ID]a1B2c3D4e[ARGS]{}"
               "[TOOL_CALLS]get_time[CALL_ID]a1B2c3D4e[ARGS]{}", calls=[TIME, TIME]),
        Golden("text after the calls", "[TOOL_CALLS]get_time[CALL_ID]abc[ARGS]{} Done.",
               content="Done.", calls=[TIME]),
        Golden("name with a space", "[TOOL_CALLS]get time[ARGS]{}",
               content="[TOOL_CALLS]get time[ARGS]{}", tags={"malformed"}),
        Golden("broken arguments", "[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e[ARGS]{]x",
               content="[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e[ARGS]{]x", tags={"malformed"}),
        Golden("half a marker at the end", "Hello [TOOL_CA", content="Hello [TOOL_CA",
               tags={"malformed"}),
    ]


class TestMinistralArgsThink(DialectConformance):
    """Ministral 3 / Magistral: optional `[THINK]...[/THINK]`, then `NAME[ARGS]{...}` calls."""

    dialect = MistralDialect()
    template = shared_template("mistralai-Ministral-3-14B-Reasoning-2512.jinja")
    goldens: ClassVar[list[Golden]] = [
        Golden("as the grammar writes it", "[TOOL_CALLS]get_weather[ARGS]" + W_GRAMMAR,
               calls=[PARIS], grammar=True),
        Golden("think then call", f"[THINK]The user wants weather.[/THINK][TOOL_CALLS]"
               f"get_weather[ARGS]{W}", reasoning="The user wants weather.", calls=[PARIS]),
        Golden("think, content, calls", "[THINK]x < y [a][/THINK]\n\nOK.[TOOL_CALLS]get_time"
               f"[ARGS]{{}}[TOOL_CALLS]get_weather[ARGS]{W}", reasoning="x < y [a]",
               content="OK.", calls=[TIME, PARIS],
               tags={"content_before_call", "several_calls", "empty_arguments"}),
        Golden("think then answer", "[THINK]easy[/THINK]It is 3.", reasoning="easy",
               content="It is 3."),
        Golden("[THINK] later is text", "a [THINK]b[/THINK]", content="a [THINK]b[/THINK]"),
        Golden("call inside an unclosed think", "[THINK]hm[TOOL_CALLS]get_time[ARGS]{}",
               reasoning="hm", calls=[TIME]),
        Golden("unclosed think", "[THINK]still thinking", reasoning="still thinking",
               tags={"malformed"}),
        Golden("empty name", "[TOOL_CALLS][ARGS]{}", content="[TOOL_CALLS][ARGS]{}",
               tags={"malformed"}),
        Golden("arguments not an object", "[TOOL_CALLS]get_time[ARGS][1]",
               content="[TOOL_CALLS]get_time[ARGS][1]", tags={"malformed"}),
    ]
