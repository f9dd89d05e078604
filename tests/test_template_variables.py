"""templating: every shared template renders tools, parallel tool calls and their results.

For each of ../shared/templates: (a) a system and a user turn with two tools and a generation
prompt, (b) a user turn, an assistant turn with two calls (OpenAI shape, `content: null`), both
results and a final answer. Each fix in the templating layer that this needs (variables a
template reads besides `tools`, mutable template-owned lists, one call per turn, Kimi-K2's
named ids, no printed `None`) has a test here that fails without it.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from gateway.templating import ChatTemplate, TemplateError
from gateway.templating_env import named_call_ids, one_call_per_turn

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "templates"
if not TEMPLATES.is_dir():
    TEMPLATES = Path("/work/shared/templates")
MANIFEST = {
    row["file"]: row for row in csv.DictReader((TEMPLATES / "MANIFEST.tsv").open(), delimiter="\t")
}
FIREFUNCTION = "fireworks-ai-llama-3-firefunction-v2.jinja"


def tool(name: str, param: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {param: {"type": "string"}},
                "required": [param],
            },
        },
    }


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


TOOLS = [
    tool("get_weather", "city", "Weather for a city"),
    tool("get_time", "zone", "Time in a zone"),
]
SYSTEM = "SYSTEXT-3141 be brief"
CALLS = [
    call("call_abc123", "get_weather", {"city": "Paris"}),
    call("call_def456", "get_time", {"zone": "Europe/Berlin"}),
]
TOOL_TURNS = [
    {"role": "user", "content": "USERTEXT-2718 weather and time?"},
    {"role": "assistant", "content": None, "tool_calls": CALLS},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "RESULT-SUNNY-21"},
    {"role": "tool", "tool_call_id": "call_def456", "content": "RESULT-TIME-1234"},
    {"role": "assistant", "content": "FINAL-ANSWER-1618"},
]
VISIBLE = ["get_weather", "Paris", "get_time", "Europe/Berlin", "RESULT-SUNNY-21"]
VISIBLE += ["RESULT-TIME-1234", "FINAL-ANSWER-1618", "USERTEXT-2718"]


def load(file: str) -> ChatTemplate:
    source = (TEMPLATES / file).read_text()
    return ChatTemplate(source, bos_token="<BOS>", eos_token="<EOS>", name=file)


@pytest.mark.parametrize("file", sorted(MANIFEST))
def test_system_user_and_tools_render(file: str) -> None:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"}]
    out = load(file).render(messages, tools=TOOLS, add_generation_prompt=True)
    assert out.count(SYSTEM) == 1 and "Hi" in out
    if MANIFEST[file]["tools_in_template"] == "yes" or file == FIREFUNCTION:
        assert "get_weather" in out and "Time in a zone" in out


@pytest.mark.parametrize("file", sorted(MANIFEST))
def test_parallel_calls_and_results_render(file: str) -> None:
    template = load(file)
    out = template.render(TOOL_TURNS, tools=TOOLS, add_generation_prompt=False)
    missing = [text for text in VISIBLE if text not in out]
    assert not missing, f"lost from the prompt: {missing} (fixes {sorted(template.applied_fixes)})"
    assert "None" not in out, "a null content was printed"
    assert out.index("Paris") < out.index("RESULT-SUNNY-21") < out.index("FINAL-ANSWER-1618")
    if template.renders_tool_calls:  # natively: the calls are not polyfilled as JSON text
        assert '"tool_calls"' not in out


# --- variables a template reads besides messages/tools ---------------------------------


def test_firefunction_gets_functions_and_datetime_from_its_model_card() -> None:
    template = load(FIREFUNCTION)
    assert {"functions", "datetime"} <= template.variables
    assert template.renders_tools  # through `functions`, derived from `tools`
    out = template.render([{"role": "user", "content": "hi"}], tools=TOOLS)
    specs = json.dumps([t["function"] for t in TOOLS], indent=4)
    assert f"Available functions as JSON spec:\n{specs}\nToday is " in out
    today = re.search(r"Today is (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.", out)
    assert today is not None
    stamp = datetime.strptime(today.group(1), "%Y-%m-%d %H:%M:%S")
    assert abs((datetime.now() - stamp).total_seconds()) < 120
    assert stamp.second == 0  # to the minute: renders of one minute give the same prompt
    assert "JSON spec:\n[]\nToday" in template.render([{"role": "user", "content": "hi"}])
    # given values win over the defaults
    given = {"functions": "FNS", "datetime": "Jan 01 2025"}
    out = template.render([{"role": "user", "content": "hi"}], extra_context=given)
    assert "JSON spec:\nFNS\nToday is Jan 01 2025." in out
    out = ChatTemplate(template.source, context=given).render([{"role": "user", "content": "hi"}])
    assert "JSON spec:\nFNS\nToday is Jan 01 2025." in out


def test_none_in_context_means_the_templates_own_default() -> None:
    gpt_oss = load("openai-gpt-oss-120b.jinja")
    user = [{"role": "user", "content": "hi"}]
    assert "Reasoning: medium" in gpt_oss.render(user)
    assert "Reasoning: medium" in gpt_oss.render(user, extra_context={"reasoning_effort": None})
    assert "Reasoning: high" in gpt_oss.render(user, extra_context={"reasoning_effort": "high"})
    qwen3 = load("Qwen-Qwen3-0.6B.jinja")
    assert qwen3.render(user).endswith("<|im_start|>assistant\n")
    off = qwen3.render(user, extra_context={"enable_thinking": False})
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert qwen3.render(user, extra_context={"enable_thinking": None}) == qwen3.render(user)
    # a request's None does not undo the template-wide context either
    low = ChatTemplate(gpt_oss.source, context={"reasoning_effort": "low"})
    assert "Reasoning: low" in low.render(user, extra_context={"reasoning_effort": None})
    fire = load(FIREFUNCTION).render(user, tools=TOOLS, extra_context={"functions": None})
    assert '"name": "get_time"' in fire


def test_optional_variables_stay_undefined() -> None:
    # Llama 3.3 would announce built-in tools for any defined `builtin_tools`, even []
    out = load("meta-llama-Llama-3.3-70B-Instruct.jinja").render(
        [{"role": "user", "content": "hi"}], tools=TOOLS
    )
    assert "Environment: ipython\nCutting" in out and "Tools:" not in out
    out = load("meta-llama-Llama-3.3-70B-Instruct.jinja").render(
        [{"role": "user", "content": "hi"}], extra_context={"builtin_tools": ["brave_search"]}
    )
    assert "Tools: brave_search" in out


# --- the sandbox: the template's own containers are mutable, the caller's are not --------


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{% set q = namespace(ids=[]) %}{% do q.ids.append(1) %}{{ q.ids.pop(0) }}", "1"),
        (
            "{% set l = [3] %}{% do l.extend([1, 2]) %}{% do l.insert(0, 0) %}{{ l }}",
            "[0, 3, 1, 2]",
        ),
        ("{% set l = [1] %}{% do l.clear() %}{% do l.sort() %}{{ l }}", "[]"),
        ("{% set d = {} %}{% do d.update({'a': 1}) %}{{ d.pop('a') }}{{ d }}", "1{}"),
        ("{% set d = {} %}{{ d.setdefault('k', 2) }}", "2"),
        (
            "{% set l = messages[:] %}{% do l.pop() %}{{ l | length }}/{{ messages | length }}",
            "0/1",
        ),
    ],
)
def test_template_owned_containers_are_mutable(source: str, expected: str) -> None:
    template = ChatTemplate(source)
    assert template.render([{"role": "user", "content": "x"}]) == expected
    assert template.render([{"role": "user", "content": "x"}]) == expected  # nothing kept


@pytest.mark.parametrize(
    "source",
    [
        "{% do messages.append(1) %}",
        "{% do messages[0].update({'role': 'system'}) %}",
        "{% do tools.pop() %}",
        "{% do tools[0].function.clear() %}",
        "{% do messages[1].tool_calls[0].function.arguments.update({'x': 1}) %}",
        "{% do messages[1].tool_calls.clear() %}",
        "{% do shared.append(1) %}",
        "{% set d = {'m': messages} %}{% do d.m.append(1) %}",
        "{{ messages.__class__.__subclasses__() }}",
        "{{ raise_exception.__globals__.clear() }}",
    ],
)
def test_callers_data_and_internals_stay_off_limits(source: str) -> None:
    shared: list[int] = []
    template = ChatTemplate(source, context={"shared": shared})
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": CALLS}]
    with pytest.raises(TemplateError, match="SecurityError|unsafe"):
        template.render(messages, tools=TOOLS)
    assert shared == [] and TOOLS[0]["function"]["name"] == "get_weather"
    # reading an internal attribute gives nothing
    assert (
        ChatTemplate("{{ messages.__class__ }}{{ raise_exception.__globals__ }}").render([]) == ""
    )


def test_opaque_objects_make_everything_immutable() -> None:
    class Holder:  # the sandbox cannot tell its list from one the template built
        items: list[int] = []  # noqa: RUF012

    template = ChatTemplate("{% set l = [] %}{% do l.append(1) %}{{ l }}")
    assert template.render([]) == "[1]"
    with pytest.raises(TemplateError, match="SecurityError|unsafe"):
        template.render([], extra_context={"holder": Holder()})


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{% for x in [1, 2] %}{{ loop.previtem }}{% endfor %}", "1"),
        (
            "{{ tools | map(attribute='function') | map(attribute='name') | join(',') }}",
            "get_weather,get_time",
        ),
        ("{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", "1"),
        ("{{ ' a,b '.strip().split(',') | join('|') }}{{ '\\nx'.lstrip('\\n').upper() }}", "a|bX"),
        (
            "{{ 'abc'.startswith('a') }}{{ 'abc'.endswith('c') }}{{ 'a-b'.replace('-', '+') }}",
            "TrueTruea+b",
        ),
        ("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", "a=1"),
        (
            "{{ {'b': 1, 'a': [1]} | tojson(indent=2, sort_keys=True, separators=(',', ':')) }}",
            '{\n  "a":[\n    1\n  ],\n  "b":1\n}',
        ),
        (
            "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
            "{% endfor %}{{ ns.n }}",
            "1",
        ),
        ("{{ strftime_now('%Y') | length }}", "4"),
    ],
)
def test_jinja_features_real_templates_use(source: str, expected: str) -> None:
    out = ChatTemplate(source).render([{"role": "user", "content": "x"}], tools=TOOLS)
    assert out == expected


# --- conversation rewrites for templates that take one call per turn or show only ids ----


def test_one_call_per_turn_pairs_results_by_id_then_by_position() -> None:
    results = [
        {"role": "tool", "tool_call_id": "call_def456", "content": "B"},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "A"},
    ]
    turn = {"role": "assistant", "content": "let me see", "thinking": "T", "tool_calls": CALLS}
    out = one_call_per_turn([turn, *results])
    assert [m.get("content") for m in out] == ["let me see", "A", None, "B"]
    assert out[0]["tool_calls"] == CALLS[:1] and out[2]["tool_calls"] == CALLS[1:]
    assert "thinking" in out[0] and "thinking" not in out[2]
    anonymous = [{"role": "tool", "content": "A"}, {"role": "tool", "content": "B"}]
    assert [m["content"] for m in one_call_per_turn([turn, *anonymous])] == [
        "let me see",
        "A",
        None,
        "B",
    ]
    stray = {"role": "tool", "tool_call_id": "other", "content": "C"}
    out = one_call_per_turn([turn, results[1], stray])  # call 2 has no result of its own
    assert [m["content"] for m in out] == ["let me see", "A", None, "C"]


@pytest.mark.parametrize(
    "file", ["meta-llama-Llama-3.2-3B-Instruct.jinja", "openai-gpt-oss-120b.jinja"]
)
def test_one_call_per_turn_templates(file: str) -> None:
    # Llama 3.x raises on two calls in a turn; gpt-oss renders the first and names both
    # results after it
    template = load(file)
    assert "split_calls" in template.applied_fixes  # learned by the probe
    out = template.render(TOOL_TURNS, tools=TOOLS, add_generation_prompt=False)
    order = ["Paris", "RESULT-SUNNY-21", "Europe/Berlin", "RESULT-TIME-1234"]
    assert [out.index(text) for text in order] == sorted(out.index(text) for text in order)
    if "gpt-oss" in file:
        assert "functions.get_time to=assistant<|channel|>commentary<|message|>" in out


def test_kimi_ids_carry_the_function_name() -> None:
    template = load("moonshotai-Kimi-K2-Instruct.jinja")
    assert template.applied_fixes == {"name_ids"}  # and its own queue (list.append) works
    out = template.render(TOOL_TURNS, tools=TOOLS, add_generation_prompt=False)
    assert (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
        "<|tool_call_begin|>functions.get_time:1" in out
    )
    assert "## Return of functions.get_weather:0\nRESULT-SUNNY-21" in out
    assert "## Return of functions.get_time:1\nRESULT-TIME-1234" in out
    # the model's own ids are kept; numbering runs over the whole conversation
    own = [{**CALLS[0], "name": "get_weather", "id": "functions.get_weather:7"}]
    renamed = named_call_ids(
        [{"role": "assistant", "tool_calls": own}, {"role": "assistant", "tool_calls": own}]
    )
    assert [m["tool_calls"][0]["id"] for m in renamed] == ["functions.get_weather:7"] * 2


@pytest.mark.parametrize("file", ["zai-org-GLM-4.6.jinja", "MiniMaxAI-MiniMax-M2.jinja"])
def test_null_content_not_printed(file: str) -> None:
    template = load(file)
    assert "empty_content" in template.applied_fixes
    out = template.render(TOOL_TURNS[:2], tools=TOOLS, add_generation_prompt=False)
    assert "None" not in out and "Europe/Berlin" in out


def test_deepseek_keeps_null_content() -> None:
    # DeepSeek renders calls only for a null content: the probe must not blank it
    template = load("deepseek-ai-DeepSeek-V3.1.jinja")
    assert "empty_content" not in template.applied_fixes
    out = template.render(TOOL_TURNS, tools=TOOLS, add_generation_prompt=False)
    assert '<｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"zone": "Europe/Berlin"}' in out
