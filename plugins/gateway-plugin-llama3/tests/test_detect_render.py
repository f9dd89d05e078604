"""Detection by round trip on the real Llama 3.2 / 3.3 templates, and prompts rendered
through them: an OpenAI client's history (ids like `call_abc123def456`, two calls in one
turn) replays, results sit in the ipython turn as the text they are, built-in tools reach
the templates that read them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gateway.detection import round_trip
from gateway.dialect import ToolDef
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, make_case
from gateway_plugin_llama3 import DIALECT
from gateway_plugin_llama3.dialect import detect

L32 = "meta-llama-Llama-3.2-3B-Instruct.jinja"
L33 = "meta-llama-Llama-3.3-70B-Instruct.jinja"
SEARCH = ToolDef("brave_search", "Search the web", {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
IPY = "<|start_header_id|>ipython<|end_header_id|>\n\n"
OPENAI_HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris, and the time?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc123def456", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_Zq9xY8wV7uT6", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "call_Zq9xY8wV7uT6", "content": "12:00"},
    {"role": "tool", "tool_call_id": "call_abc123def456", "content": '{"temp_c": 21}'},
    {"role": "assistant", "content": "21C at noon."},
    {"role": "user", "content": "And in Rome?"},
]


@pytest.mark.parametrize("name", [L32, L33])
def test_round_trip_picks_llama3(name: str, load_template: Callable[[str], ChatTemplate]
                                 ) -> None:
    t = load_template(name)
    claim = detect(t.source)
    assert claim is not None and claim.dialect == "llama3" and claim.score == 50
    evidence = round_trip(DIALECT, t)
    assert evidence.ok, evidence.reason
    assert evidence.rendered == '{"name": "get_weather", "parameters": {"city": "Paris", ' \
                                '"days": 3}}'
    assert create_plugins(["llama3"]).claims(t, {})[0].dialect == "llama3"


def test_claims_only_templates_that_round_trip(templates_dir: Path) -> None:
    claimed = sorted(p.name for p in templates_dir.glob("*.jinja") if detect(p.read_text()))
    assert {L32, L33} <= set(claimed)
    for name in claimed:
        assert round_trip(DIALECT, ChatTemplate((templates_dir / name).read_text())).ok, name


@pytest.mark.parametrize("name", [L32, L33])
def test_openai_history_replays_with_results_in_ipython(
        name: str, load_template: Callable[[str], ChatTemplate]) -> None:
    ctx = make_case(DIALECT, [WEATHER, CLOCK], messages=OPENAI_HISTORY,
                    template=load_template(name))
    prompt = ctx.prompt()
    # one call per assistant turn (the template raises otherwise), each with its result
    assert '{"name": "get_weather", "parameters": {"city": "Paris"}}' in prompt
    assert f'{IPY}{{"temp_c": 21}}<|eot_id|>' in prompt  # the output itself, not quoted
    assert f"{IPY}12:00<|eot_id|>" in prompt
    assert prompt.index("get_weather\", \"parameters") < prompt.index("temp_c") < \
        prompt.index('"get_time", "parameters": {}') < prompt.index("12:00")
    assert "21C at noon." in prompt and "And in Rome?" in prompt
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_builtin_tools_reach_llama33(load_template: Callable[[str], ChatTemplate]) -> None:
    history = [{"role": "user", "content": "Search the news"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {
                       "name": "brave_search", "arguments": '{"query": "news"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "nothing new"}]
    ctx = make_case(DIALECT, [WEATHER, SEARCH], messages=history, template=load_template(L33))
    prompt = ctx.prompt()
    assert "Tools: brave_search\n" in prompt
    assert '<|python_tag|>brave_search.call(query="news")<|eom_id|>' in prompt
    assert f"{IPY}nothing new<|eot_id|>" in prompt
    ctx = ctx.replace(tool_choice="none")
    assert "Tools: brave_search" not in ctx.prompt()


def test_tool_choice_none_offers_no_tools(load_template: Callable[[str], ChatTemplate]) -> None:
    for name in (L32, L33):
        ctx = make_case(DIALECT, [WEATHER, CLOCK], "none", messages=OPENAI_HISTORY,
                        template=load_template(name))
        prompt = ctx.prompt()
        assert "Given the following functions" not in prompt
        assert "Environment: ipython" not in prompt and "12:00" in prompt
