"""What derivation finds in every shared template: the syntax, or why there is none."""

from __future__ import annotations

import pytest
from auto_helpers import load
from gateway.testing import shared_templates_dir
from gateway_plugin_auto import DIALECT, explain, gateway_detect_dialect
from gateway_plugin_auto.markup import ARGS, ID, INDEX, NAME

# file -> (trigger, a literal of the call, tagged arguments?, reasoning markers) or the reason
# derivation refuses. Every template of ../shared/templates is listed.
DERIVED = {
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja":
        ("<|START_ACTION|>", '"tool_name": "', False, ("<|START_THINKING|>", "<|END_THINKING|>")),
    "LiquidAI-LFM2.5-8B-A1B.jinja": ("<|tool_call_start|>", None, True, ("<think>", "</think>")),
    "MiniMaxAI-MiniMax-M2.jinja": ("<minimax:tool_call>", '<invoke name="', True,
                                   ("<think>", "</think>")),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("[TOOL_CALLS]", "[CALL_ID]", False, None),
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": ("<tool_call>", '"arguments": ',
                                                            False, None),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<tool_call>", '"arguments": ', False,
                                                          None),
    "Qwen-QwQ-32B.jinja": ("<tool_call>", '"arguments": ', False, ("<think>", "</think>")),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("<tool_call>", '"arguments": ', False, None),
    "Qwen-Qwen3-0.6B.jinja": ("<tool_call>", '"arguments": ', False, ("<think>", "</think>")),
    "Qwen-Qwen3-Coder.jinja": ("<tool_call>", "<tool_call>\n<function=", True, None),
    "deepseek-ai-DeepSeek-V3.1.jinja": ("<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", False, None),
    "fireworks-ai-llama-3-firefunction-v2.jinja": ("functools[", '{"name": "', False, None),
    "google-gemma-4-31B-it.jinja": ("<|tool_call>", "<|tool_call>call:", True,
                                    ("<|channel>thought", "<channel|>")),
    "ibm-granite-granite-4.0.jinja": ("<tool_call>", '"arguments": ', False, None),
    "meetkai-functionary-medium-v3.1.jinja": ("<function=", "</function>", False, None),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ('{"name": "', '"parameters": ', False, None),
    "meta-llama-Llama-3.3-70B-Instruct.jinja": ('{"name": "', '"parameters": ', False, None),
    "mistralai-Ministral-3-14B-Reasoning-2512.jinja": ("[TOOL_CALLS]", "[ARGS]", False, None),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("[TOOL_CALLS]", ', "id": "', False, None),
    "moonshotai-Kimi-K2-Instruct.jinja": ("<|tool_calls_section_begin|>",
                                          "<|tool_call_argument_begin|>", False, None),
    "zai-org-GLM-4.6.jinja": ("<tool_call>", "<tool_call>", True, ("<think>", "</think>")),
}
REFUSED = {
    "HuggingFaceTB-SmolLM3-3B.jinja": "does not render assistant tool calls",
    "google-gemma-2-2b-it.jinja": "does not render assistant tool calls",
    "ibm-granite-granite-3.3-2B-Instruct.jinja": "does not render assistant tool calls",
    "microsoft-Phi-3.5-mini-instruct.jinja": "does not render assistant tool calls",
    "mistralai-Mixtral-8x7B-Instruct-v0.1.jinja": "does not render assistant tool calls",
    # one call is left without its section's close, several get it: inconsistent
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": "not written alike",
    # `>>>` opens calls inside the generation prompt; text is written after `all\n`
    "meetkai-functionary-medium-v3.2.jinja": "unlike a plain answer",
    # Harmony: text goes to channels
    "openai-gpt-oss-120b.jinja": "unlike a plain answer",
}


def test_every_shared_template_is_listed() -> None:
    files = {p.name for p in shared_templates_dir().glob("*.jinja")}
    assert files == set(DERIVED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_derived(name: str) -> None:
    trigger, literal, tagged, think = DERIVED[name]
    template = load(name)
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.trigger == trigger
    assert spec.call.count(NAME) == 1 and spec.call.count(ARGS) == 1
    assert spec.call.index(NAME) < spec.call.index(ARGS)
    if literal:
        assert any(literal in p for p in spec.call if p not in (NAME, ARGS, ID, INDEX))
    assert (spec.args is not None) == tagged
    assert spec.think == think
    claim = gateway_detect_dialect(template, {})
    assert claim is not None and claim.dialect == "auto" and claim.score == 20
    assert claim.reason.startswith("derived: calls as ")
    assert explain(template) == claim.reason


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused(name: str) -> None:
    template = load(name)
    assert gateway_detect_dialect(template, {}) is None
    assert REFUSED[name] in explain(template)
    assert explain(template).startswith("not derived: ")


def test_family_details() -> None:
    coder = DIALECT.lookup(load("Qwen-Qwen3-Coder.jinja"))
    glm = DIALECT.lookup(load("zai-org-GLM-4.6.jinja"))
    minimax = DIALECT.lookup(load("MiniMaxAI-MiniMax-M2.jinja"))
    lfm = DIALECT.lookup(load("LiquidAI-LFM2.5-8B-A1B.jinja"))
    gemma = DIALECT.lookup(load("google-gemma-4-31B-it.jinja"))
    kimi = DIALECT.lookup(load("moonshotai-Kimi-K2-Instruct.jinja"))
    cohere = DIALECT.lookup(load("CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja"))
    llama = DIALECT.lookup(load("meta-llama-Llama-3.2-3B-Instruct.jinja"))
    nemo = DIALECT.lookup(load("mistralai-Mistral-Nemo-Instruct-2407.jinja"))
    qwq = DIALECT.lookup(load("Qwen-QwQ-32B.jinja"))
    v31 = DIALECT.lookup(load("deepseek-ai-DeepSeek-V3.1.jinja"))
    for spec in (coder, glm, minimax, lfm, gemma, kimi, cohere, llama, nemo, qwq, v31):
        assert not isinstance(spec, str), spec
    assert coder.args and (coder.args.open, coder.args.key_end, coder.args.close) == (
        "<parameter=", ">\n", "\n</parameter>")
    assert coder.args.python_bools  # it writes True
    assert glm.args and (glm.args.open, glm.args.key_end, glm.args.close) == (
        "<arg_key>", "</arg_key>\n<arg_value>", "</arg_value>")
    assert minimax.args and minimax.args.open == '<parameter name="' and minimax.think_forced
    assert lfm.args and (lfm.args.quote_open, lfm.args.start, lfm.args.end) == ("'", "(", ")")
    assert gemma.args and gemma.args.quote_open == '<|"|>' and gemma.args.sorted_keys
    assert gemma.content == "after" and gemma.turn_end == "<|tool_response>"
    assert kimi.call[kimi.call.index(NAME) + 1:kimi.call.index(NAME) + 3] == (":", INDEX)
    assert cohere.call[1] == INDEX and cohere.content == "dropped"
    assert llama.single_call and nemo.call.count(ID) == 1 and nemo.short_ids
    assert qwq.think_forced and not v31.renders_tools
    assert v31.section_open == "<｜tool▁calls▁begin｜>"
    assert v31.section_close == "<｜tool▁calls▁end｜>"
