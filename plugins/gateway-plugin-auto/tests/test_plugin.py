"""The plugin as the core sees it: discovered through its entry point, registering one
dialect, claiming templates below hand-written dialects, which win where they round-trip."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from auto_helpers import load
from gateway.detection import detect
from gateway.plugins import create_plugins
from gateway.testing import plugins_listed_in_fresh_env

PLUGIN_DIR = Path(__file__).resolve().parents[1]


def test_entry_point() -> None:
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="gateway.plugins")}
    assert eps.get("auto") == "gateway_plugin_auto"
    plugins = create_plugins(["auto"])
    assert "auto" in plugins.dialects
    assert plugins.infos["auto"].dialects == ["auto"]
    assert {"gateway_register_dialects", "gateway_detect_dialect"} <= set(
        plugins.infos["auto"].hooks)


@pytest.mark.parametrize(("name", "dialect"), [
    ("Qwen-Qwen3-Coder.jinja", "auto"),  # hermes's keyword claim fails its round trip
    ("zai-org-GLM-4.6.jinja", "auto"),
    ("moonshotai-Kimi-K2-Instruct.jinja", "auto"),
    ("Qwen-Qwen2.5-7B-Instruct.jinja", "hermes"),  # both round-trip: the hand-written wins
    ("meetkai-functionary-medium-v3.1.jinja", "functionary-v3.1"),
    ("HuggingFaceTB-SmolLM3-3B.jinja", "generic"),  # no calls in the template: no claim
])
def test_detection_prefers_hand_written_dialects(name: str, dialect: str) -> None:
    installed = {ep.name for ep in metadata.entry_points(group="gateway.plugins")}
    wanted = [n for n in ("auto", "hermes", "functionary") if n in installed]
    if dialect not in ("auto", "generic") and dialect.split("-")[0] not in wanted:
        pytest.skip(f"plugin for {dialect} not installed")
    plugins = create_plugins(wanted)
    template = load(name)
    found = detect(plugins.dialects, plugins.claims(template, {}), template)
    assert found.dialect.name == dialect, found.reason


@pytest.mark.e2e
def test_listed_in_a_fresh_env(tmp_path: Path) -> None:
    listed = {p["name"]: p for p in plugins_listed_in_fresh_env(str(PLUGIN_DIR), str(tmp_path))}
    assert "auto" in listed and "hermes" not in listed
    assert listed["auto"]["dialects"] == ["auto"]
    assert listed["auto"]["version"] == "0.1.0"
