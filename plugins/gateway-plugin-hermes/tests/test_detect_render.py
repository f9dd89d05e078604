"""Detection over every template fixture, and prompts rendered through the model's own
template: tools offered (or not), assistant tool calls and tool results in history."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from gateway.detection import round_trip
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, DialectCase, make_case
from gateway_plugin_hermes import DIALECT
from gateway_plugin_hermes.dialect import detect
from gateway_plugin_hermes.markup import think_forced_open

HERMES_TEMPLATES = [
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "Qwen-Qwen3-0.6B.jinja",
    "Qwen-QwQ-32B.jinja",
]
HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp_c": 21}'},
]


def test_detection_claims_exactly_the_hermes_families(templates_dir: Path) -> None:
    with open(templates_dir / "MANIFEST.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows
    for row in rows:
        claim = detect((templates_dir / row["file"]).read_text())
        family = row["family"]
        if family in ("hermes", "qwen3-hermes"):
            assert claim is not None and claim.dialect == "hermes", row["file"]
            assert claim.score == (55 if family == "qwen3-hermes" else 50), row["file"]
            assert "<tool_call>" in claim.reason
            assert round_trip(DIALECT, ChatTemplate(
                (templates_dir / row["file"]).read_text())).ok, row["file"]
        elif claim is not None:
            # a keyword claim on a foreign template (Qwen3-Coder's XML parameters, GLM's
            # arg_key) must be refused by the core's round trip; a hermes-like one passes
            ok = round_trip(DIALECT, ChatTemplate((templates_dir / row["file"]).read_text())).ok
            assert ok == (family == "hermes-like"), row["file"]


def test_hook_claim_wins_over_generic(load_template: Any) -> None:
    plugins = create_plugins(["hermes"])
    assert "hermes" in plugins.dialects
    claims = plugins.claims(load_template("Qwen-Qwen2.5-7B-Instruct.jinja"), {})
    assert claims[0].dialect == "hermes"


def ctx_for(t: ChatTemplate, messages: list[dict[str, Any]], choice: str = "auto"
            ) -> DialectCase:
    return make_case(DIALECT, [WEATHER, CLOCK], choice, template=t, messages=messages)


@pytest.mark.parametrize("name", HERMES_TEMPLATES)
def test_history_with_calls_and_results_renders(name: str, load_template: Any) -> None:
    t = load_template(name)
    prompt = ctx_for(t, HISTORY).prompt()
    assert '"name": "get_time"' in prompt  # the tools are offered
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n' \
           '</tool_call>' in prompt
    assert '<tool_response>\n{"temp_c": 21}\n</tool_response>' in prompt
    assert prompt.rstrip().endswith(("<|im_start|>assistant", "<think>"))


@pytest.mark.parametrize("name", HERMES_TEMPLATES)
def test_tool_choice_none_offers_no_tools(name: str, load_template: Any) -> None:
    t = load_template(name)
    prompt = ctx_for(t, HISTORY, "none").prompt()
    assert "get_time" not in prompt and "<tools>" not in prompt
    assert "Weather in Paris?" in prompt
    assert '{"temp_c": 21}' in prompt  # history still shows the call's result
    assert '"name": "get_weather"' in prompt


def test_hermes_tool_use_template_falls_back_to_chatml(load_template: Any) -> None:
    t = load_template("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")
    prompt = ctx_for(t, HISTORY[:2], "none").prompt()
    assert prompt == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
                      "Weather in Paris?<|im_end|>\n<|im_start|>assistant\n")


def test_forced_open_think_is_detected(load_template: Any) -> None:
    assert think_forced_open(load_template("Qwen-QwQ-32B.jinja"))
    assert not think_forced_open(load_template("Qwen-Qwen3-0.6B.jinja"))
    assert not think_forced_open(load_template("Qwen-Qwen2.5-7B-Instruct.jinja"))
    assert not think_forced_open(None)


def test_parser_follows_tool_choice_and_template(load_template: Any) -> None:
    t = load_template("Qwen-QwQ-32B.jinja")
    out = ctx_for(t, HISTORY[:2]).parser().feed("why</think>hi ")
    assert [(d.kind, d.text) for d in out] == [("reasoning", "why"), ("content", "hi")]
    text = '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'
    parser = ctx_for(load_template(HERMES_TEMPLATES[1]), [], "none").parser()
    deltas = parser.feed(text) + parser.finish()
    assert "".join(d.text for d in deltas) == text and {d.kind for d in deltas} == {"content"}
    assert json.loads(text.split("\n")[1])["name"] == "get_time"
