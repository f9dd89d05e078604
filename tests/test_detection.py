"""Auto-detection: every real template in ../shared/templates maps to the expected dialect
with all installed plugins loaded (the table below is the expectation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.plugins import create_plugins
from gateway.runtime import ServeConfig, choose_dialect
from gateway.templating import ChatTemplate, load_template_file

TEMPLATES = Path(__file__).resolve().parents[1].parent / "shared" / "templates"

EXPECTED = {
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": "generic",
    "HuggingFaceTB-SmolLM3-3B.jinja": "generic",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": "generic",
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": "hermes",
    "Qwen-QwQ-32B.jinja": "hermes",
    "Qwen-Qwen2.5-7B-Instruct.jinja": "hermes",
    "Qwen-Qwen3-0.6B.jinja": "hermes",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": "generic",
    "fireworks-ai-llama-3-firefunction-v2.jinja": "generic",
    "google-gemma-2-2b-it.jinja": "generic",
    "ibm-granite-granite-3.3-2B-Instruct.jinja": "generic",
    "meetkai-functionary-medium-v3.1.jinja": "functionary-v3.1",
    "meetkai-functionary-medium-v3.2.jinja": "functionary-v3.2",
    "meta-llama-Llama-3.2-3B-Instruct.jinja": "generic",
    "meta-llama-Llama-3.3-70B-Instruct.jinja": "generic",
    "microsoft-Phi-3.5-mini-instruct.jinja": "generic",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": "generic",
    "mistralai-Mixtral-8x7B-Instruct-v0.1.jinja": "generic",
}


@pytest.fixture(scope="module")
def plugins():
    return create_plugins()


def test_table_covers_every_shared_template():
    assert sorted(EXPECTED) == sorted(p.name for p in TEMPLATES.glob("*.jinja"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detects_expected_dialect(plugins, name):
    template = ChatTemplate(load_template_file(TEMPLATES / name))
    dialect, reason = choose_dialect(plugins, template, {}, ServeConfig())
    assert dialect.name == EXPECTED[name], reason
    assert reason


def test_plugin_flag_overrides_detection(plugins):
    template = ChatTemplate(load_template_file(TEMPLATES / "Qwen-Qwen2.5-7B-Instruct.jinja"))
    dialect, _ = choose_dialect(plugins, template, {}, ServeConfig(plugins=["generic"]))
    assert dialect.name == "generic"
    dialect, why = choose_dialect(plugins, template, {}, ServeConfig(dialect="generic"))
    assert dialect.name == "generic" and "--dialect" in why
