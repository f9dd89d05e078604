"""Prompts through the real functionary templates, the TypeScript fallback, detection."""

from __future__ import annotations

from pathlib import Path

import gateway
import pytest
from gateway.detection import round_trip
from gateway.dialect import ToolDef
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, make_case
from gateway_plugin_functionary import V31, V32, detect

TEMPLATES = Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"
V31_FILE = TEMPLATES / "meetkai-functionary-medium-v3.1.jinja"
V32_FILE = TEMPLATES / "meetkai-functionary-medium-v3.2.jinja"
PY = ToolDef("python", "Run Python code", {
    "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})
HISTORY = [
    {"role": "user", "content": "Weather in Rome?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        {"id": "c2", "type": "function",
         "function": {"name": "python", "arguments": '{"code":"print(1)"}'}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "c2", "content": "1"},
]


def render(dialect, path: Path | None, **kw) -> str:
    source = path.read_text() if path else (
        "{% for m in messages %}<{{m.role}}>{{m.content}}\n{% endfor %}<assistant>")
    ctx = make_case(dialect, [WEATHER, CLOCK],
                    template=ChatTemplate(source, bos_token="<|begin_of_text|>"), **kw)
    return ctx.prompt()


def test_v31_template_lists_tools_and_replays_calls():
    prompt = render(V31, V31_FILE, messages=HISTORY, tools=[WEATHER, CLOCK, PY])
    assert "Use the function 'get_weather'" in prompt
    assert ('<function=get_weather>{"city":"Rome"}</function><|python_tag|>print(1)<|eom_id|>'
            in prompt)  # python history as raw code, the way the model writes it
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_v32_template_lists_tools_and_ends_with_separator():
    prompt = render(V32, V32_FILE, messages=HISTORY, tools=[WEATHER, CLOCK, PY])
    assert "namespace functions {" in prompt and "type get_weather = (_: {" in prompt
    assert '>>>get_weather\n{"city":"Rome"}>>>python\nprint(1)<|eot_id|>' in prompt
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n>>>")


@pytest.mark.parametrize("dialect,path", [(V31, V31_FILE), (V32, V32_FILE)])
def test_tool_choice_selects_what_the_model_sees(dialect, path):
    assert "get_weather" not in render(dialect, path, tool_choice="none")
    named = render(dialect, path, tool_choice="named", forced_tool="get_time")
    assert "get_time" in named and "get_weather" not in named


@pytest.mark.parametrize("dialect", [V31, V32])
def test_template_without_tools_gets_a_typescript_namespace(dialect):
    prompt = render(dialect, None)
    assert prompt.startswith("<system>// Supported function definitions")
    assert prompt.endswith("<assistant>>>>" if dialect is V32 else "<assistant>")
    assert "namespace functions {" in prompt and "type get_time = (_: object) => any;" in prompt
    assert "get_weather" not in render(dialect, None, tool_choice="none")


def test_detection_claims_each_template_for_its_dialect():
    claims = {p.name: detect(p.read_text()) for p in TEMPLATES.glob("*.jinja")}
    assert claims[V31_FILE.name].dialect == "functionary-v3.1"
    assert claims[V32_FILE.name].dialect == "functionary-v3.2"
    assert all(c.score > 0 and c.reason for c in claims.values() if c)
    # A keyword claim may reach further (Qwen3-Coder also writes `<function=`); the core's
    # round trip decides, and only functionary's own templates pass it.
    by_name = {d.name: d for d in (V31, V32)}
    for name, claim in claims.items():
        if claim is None:
            continue
        template = ChatTemplate((TEMPLATES / name).read_text())
        passed = round_trip(by_name[claim.dialect], template).ok
        assert passed == (name in (V31_FILE.name, V32_FILE.name)), name


def test_detection_through_the_plugin_manager():
    from gateway.plugins import create_plugins

    plugins = create_plugins(["functionary"])
    assert {"functionary-v3.1", "functionary-v3.2"} <= set(plugins.dialects)
    for path, name in ((V31_FILE, "functionary-v3.1"), (V32_FILE, "functionary-v3.2")):
        claims = plugins.claims(ChatTemplate(path.read_text()), {})
        assert max(claims, key=lambda c: c.score).dialect == name
