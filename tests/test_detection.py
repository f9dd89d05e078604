"""Detection: every real template in ../shared/templates maps to the expected dialect with
all installed plugins loaded; a dialect wins only with round-trip evidence (the planted call
rendered by the template parses back exactly), and its grammar carries the template's own
call markers. The table below is the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.detection import PLANTED_TOOLS, round_trip
from gateway.plugins import create_plugins
from gateway.runtime import ServeConfig, choose, choose_dialect
from gateway.templating import ChatTemplate, load_template_file
from gateway.testing import make_case

TEMPLATES = Path(__file__).resolve().parents[1].parent / "shared" / "templates"

# template → (dialect, a marker its required-call grammar must contain)
EXPECTED: dict[str, tuple[str, str]] = {
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": ("auto", "<|START_ACTION|>"),
    "HuggingFaceTB-SmolLM3-3B.jinja": ("generic", "tool_calls"),
    "LiquidAI-LFM2.5-8B-A1B.jinja": ("auto", "<|tool_call_start|>"),
    "MiniMaxAI-MiniMax-M2.jinja": ("auto", "<minimax:tool_call>"),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("mistral", "CALL_ID"),
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": ("hermes", "<tool_call>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("hermes", "<tool_call>"),
    "Qwen-QwQ-32B.jinja": ("hermes", "<tool_call>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("hermes", "<tool_call>"),
    "Qwen-Qwen3-0.6B.jinja": ("hermes", "<tool_call>"),
    "Qwen-Qwen3-Coder.jinja": ("auto", "<parameter="),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("generic", "tool_calls"),
    "deepseek-ai-DeepSeek-V3.1.jinja": ("auto", "tool\\u2581sep"),
    "fireworks-ai-llama-3-firefunction-v2.jinja": ("auto", "functools"),
    "google-gemma-2-2b-it.jinja": ("generic", "tool_calls"),
    "google-gemma-4-31B-it.jinja": ("auto", "<|tool_call>"),
    "ibm-granite-granite-3.3-2B-Instruct.jinja": ("generic", "tool_calls"),
    "ibm-granite-granite-4.0.jinja": ("hermes", "<tool_call>"),
    "meetkai-functionary-medium-v3.1.jinja": ("functionary-v3.1", "<function="),
    "meetkai-functionary-medium-v3.2.jinja": ("functionary-v3.2", "\">>>\" call"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("llama3", "parameters"),
    "meta-llama-Llama-3.3-70B-Instruct.jinja": ("llama3", "parameters"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("generic", "tool_calls"),
    "mistralai-Ministral-3-14B-Reasoning-2512.jinja": ("mistral", "THINK"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("mistral", "\\\"id\\\": \\\""),
    "mistralai-Mixtral-8x7B-Instruct-v0.1.jinja": ("generic", "tool_calls"),
    "moonshotai-Kimi-K2-Instruct.jinja": ("auto", "<|tool_calls_section_begin|>"),
    "openai-gpt-oss-120b.jinja": ("harmony", "to=functions."),
    "zai-org-GLM-4.6.jinja": ("auto", "<arg_key>"),
}


@pytest.fixture(scope="module")
def plugins():
    return create_plugins()


def _template(name: str) -> ChatTemplate:
    return ChatTemplate(load_template_file(TEMPLATES / name))


def test_table_covers_every_shared_template():
    assert sorted(EXPECTED) == sorted(p.name for p in TEMPLATES.glob("*.jinja"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detects_expected_dialect_with_evidence(plugins, name):
    template = _template(name)
    found = choose(plugins, template, {}, ServeConfig())
    dialect, marker = EXPECTED[name]
    assert found.dialect.name == dialect, found.reason
    assert found.reason
    if dialect != "generic":
        evidence = next(e for e in found.evidence if e.dialect == dialect)
        assert evidence.ok and "get_weather" in evidence.rendered
        assert "round trip" in found.reason
    # the grammar for a required call carries the dialect's own markers
    case = make_case(found.dialect, list(PLANTED_TOOLS), "required", template=template)
    grammar = case.plan().grammar or ""
    assert marker in grammar, grammar[:300]


@pytest.mark.parametrize("name", ["Qwen-Qwen3-Coder.jinja", "zai-org-GLM-4.6.jinja"])
def test_keyword_claim_without_round_trip_is_refused(plugins, name):
    """Both templates mention `<tool_call>`, but write XML parameters / arg_key pairs: the
    hermes JSON dialect must not be forced on them."""
    template = _template(name)
    evidence = round_trip(plugins.dialects["hermes"], template)
    assert not evidence.ok and evidence.rendered and evidence.reason
    assert choose(plugins, template, {}, ServeConfig()).dialect.name != "hermes"


def test_plugin_flag_overrides_detection(plugins):
    template = _template("Qwen-Qwen2.5-7B-Instruct.jinja")
    dialect, _ = choose_dialect(plugins, template, {}, ServeConfig(plugins=["generic"]))
    assert dialect.name == "generic"
    dialect, why = choose_dialect(plugins, template, {}, ServeConfig(dialect="generic"))
    assert dialect.name == "generic" and "--dialect" in why


@pytest.mark.parametrize("after,stop", [
    ("<|im_end|>\n", "<|im_end|>"),
    ("<|end|><|im_end|>\n", "<|end|>"),
    ("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    ("<|close|>reply<|sep|>\n", "<|close|>reply<|sep|>"),
    ("", None),
])
def test_the_stop_word_after_an_answer_ends_at_its_end_of_generation_token(after, stop):
    """The line after an answer is the stop word, but not past an end-of-generation token:
    a line of several markers matches only when the model writes every one of them."""
    from gateway.detection import end_of_turn_marker
    source = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}"
              "{% if m.role == 'assistant' %}" + after.replace("\n", "{{ '\\n' }}") +
              "{% else %}\n{% endif %}{% endfor %}")
    assert end_of_turn_marker(ChatTemplate(source, name="t")) == stop


# -- shapes of templates outside the shared set (vLLM's examples): synthetic, same shape --

_ROLE_TURNS = """{%- for m in messages %}
{%- if m.role == 'assistant' and m.tool_calls %}<|im_start|>assistant
{%- for c in m.tool_calls %}
<tool_call>
{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% elif m.role == 'tool' %}{% if m.name is not defined %}
{{- raise_exception("Tool response dicts require a 'name' key indicating the name of the "
                    "called function!") }}
{%- endif %}<|im_start|>tool
{"name": "{{ m.name }}", "content": {{ m.content | tojson }}}<|im_end|>
{% else %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


def test_a_template_that_requires_tool_result_names_gets_them(plugins):
    """vLLM's Hermes template raises on a tool turn without `name`: the calls' names are
    put on the results (OpenAI's tool messages carry only the call id), so the template's
    calls are seen and hermes claims it with evidence."""
    template = ChatTemplate(_ROLE_TURNS, name="names required")
    assert template.renders_tool_calls and template.renders_tool_results
    text = template.render([
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "cold"}])
    assert '{"name": "get_weather", "content": "cold"}' in text
    assert choose(plugins, template, {}, ServeConfig()).dialect.name == "hermes"


# calls rendered only in the branch for a request with tools (Hunyuan A13B)
_CALLS_WITH_TOOLS_ONLY = """{%- if tools %}<|sys|>{{ tools | tojson }}<|eos|>{% endif %}
{%- for m in messages %}
{%- if m.role == 'assistant' %}<|bot|>
{%- if tools and m.tool_calls %}<calls>[{% for c in m.tool_calls %}{"name": "
{{- c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
{%- if not loop.last %}, {% endif %}{% endfor %}]</calls>
{%- else %}{{ m.content }}{% endif %}<|eos|>
{%- else %}<|{{ m.role }}|>{{ m.content }}<|eos|>{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|bot|>{% endif %}"""


def test_calls_rendered_only_with_tools_are_seen(plugins):
    template = ChatTemplate(_CALLS_WITH_TOOLS_ONLY, name="calls with tools only")
    assert template.renders_tool_calls
    found = choose(plugins, template, {}, ServeConfig())
    assert found.dialect.name == "auto", found.reason


# the last assistant turn is written in a training form without its calls (vLLM's Nemotron
# JSON template), and the generation prompt ends in whitespace the history writes otherwise
_LAST_TURN_APART = """{%- set last = messages[-1] if messages[-1].role == 'assistant' else none %}
{%- for m in (messages[:-1] if last else messages) %}
{%- if m.role == 'assistant' %}ASSISTANT:
{% if m.tool_calls %}<TOOLCALL>[{% for c in m.tool_calls %}{"name": "{{ c.function.name
}}", "arguments": {{ c.function.arguments | tojson }}}{% if not loop.last %}, {% endif %}
{%- endfor %}]</TOOLCALL>{% else %}{{ m.content }}{% endif %}
<|end|>
{% else %}USER: {{ m.content }}
{% endif %}{% endfor %}
{%- if add_generation_prompt %}ASSISTANT: {{ '\\n' }}
{%- elif last %}ASSISTANT: {{ last.content or '' }}{% endif %}"""


def test_a_last_turn_written_without_its_calls_is_read_from_a_followed_turn(plugins):
    template = ChatTemplate(_LAST_TURN_APART, name="last turn apart")
    found = choose(plugins, template, {}, ServeConfig())
    assert found.dialect.name == "auto", found.reason
    evidence = next(e for e in found.evidence if e.dialect == "auto")
    assert evidence.rendered.startswith("<TOOLCALL>[") and evidence.parallel


# instructions put before the user's message only when it is the conversation's last (vLLM's
# parallel Mistral template): the generation prompt and the history differ before the turn
_INSTRUCTED_LAST_USER = """{%- for m in messages %}
{%- if m.role == 'user' %}<|im_start|>user
{% if loop.last %}Call tools as <tool_call> JSON. {% endif %}{{ m.content }}<|im_end|>
{% elif m.role == 'assistant' %}<|im_start|>assistant
{% for c in m.tool_calls or [] %}<tool_call>
{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
</tool_call>{% endfor %}{{ m.content or '' }}<|im_end|>
{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


def test_a_turn_after_a_user_turn_written_otherwise_at_the_end(plugins):
    template = ChatTemplate(_INSTRUCTED_LAST_USER, name="instructed last user")
    found = choose(plugins, template, {}, ServeConfig())
    assert found.dialect.name == "hermes", found.reason
    evidence = next(e for e in found.evidence if e.dialect == "hermes")
    assert evidence.rendered.startswith("<tool_call>")
