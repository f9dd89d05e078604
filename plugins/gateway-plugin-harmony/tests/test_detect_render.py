"""Detection over every template fixture and prompts rendered through gpt-oss's own
template: tools offered, assistant tool calls and tool results in history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.detection import assistant_part, round_trip
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, make_case
from gateway_plugin_harmony import DIALECT
from gateway_plugin_harmony.dialect import detect

GPT_OSS = "openai-gpt-oss-120b.jinja"
HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp_c": 21}'},
]


def test_round_trip_with_the_real_template(load_template: Callable[[str], ChatTemplate]
                                           ) -> None:
    t = load_template(GPT_OSS)
    claim = detect(t.source)
    assert claim is not None and claim.dialect == "harmony" and claim.score == 50
    evidence = round_trip(DIALECT, t)
    assert evidence.ok, evidence.reason
    assert evidence.rendered == (' to=functions.get_weather<|channel|>commentary json'
                                 '<|message|>{"city": "Paris", "days": 3}')
    assert not evidence.parallel  # one call per message: parallel calls are not offered


def test_claims_only_harmony_templates(templates_dir: Path) -> None:
    claimed = sorted(p.name for p in templates_dir.glob("*.jinja")
                     if detect(p.read_text()) is not None)
    assert GPT_OSS in claimed
    for name in claimed:  # whatever else is claimed must round-trip too
        assert round_trip(DIALECT, ChatTemplate((templates_dir / name).read_text())).ok, name


def test_prompt_renders_tools_and_ends_with_the_assistant_start(
        load_template: Callable[[str], ChatTemplate]) -> None:
    t = load_template(GPT_OSS)
    ctx = make_case(DIALECT, [WEATHER, CLOCK], messages=HISTORY[:1], template=t)
    prompt = ctx.prompt()
    assert prompt.endswith("<|start|>assistant")
    assert "namespace functions" in prompt and "type get_weather" in prompt
    ctx = ctx.replace(tool_choice="none")
    assert "namespace functions" not in ctx.prompt()


def test_history_with_a_call_and_its_result(load_template: Callable[[str], ChatTemplate]
                                            ) -> None:
    t = load_template(GPT_OSS)
    ctx = make_case(DIALECT, [WEATHER], messages=HISTORY, template=t)
    prompt = ctx.prompt()
    assert ('<|start|>assistant to=functions.get_weather<|channel|>commentary json'
            '<|message|>{"city": "Paris"}<|call|>') in prompt
    assert "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>" in prompt
    assert "temp_c" in prompt and prompt.endswith("<|start|>assistant")


def test_final_answer_in_history_round_trips(load_template: Callable[[str], ChatTemplate]
                                             ) -> None:
    t = load_template(GPT_OSS)
    part = assistant_part(t, {"role": "assistant", "content": "It is 21C."}, [WEATHER])
    ctx = make_case(DIALECT, [WEATHER], messages=[])
    parser = ctx.parser()
    text = "".join(d.text for d in parser.feed(part) + parser.finish())
    assert text == "It is 21C."


def test_the_entry_point_registers_and_claims(load_template: Callable[[str], ChatTemplate]
                                              ) -> None:
    plugins = create_plugins(["harmony"])
    assert "harmony" in plugins.dialects
    claims = plugins.claims(load_template(GPT_OSS), {})
    assert claims[0].dialect == "harmony"
