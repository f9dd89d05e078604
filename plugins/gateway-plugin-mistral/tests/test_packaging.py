"""The plugin is found through its installed entry point (group `gateway.plugins`)."""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.plugins import create_plugins


def test_entry_point_registers_the_dialect() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="gateway.plugins")}
    assert found["mistral"] == "gateway_plugin_mistral"
    plugins = create_plugins(["mistral"])
    info = next(i for i in plugins.describe() if i["name"] == "mistral")
    assert info["dialects"] == ["mistral"] and info["version"] == "0.1.0"
    assert {"gateway_register_dialects", "gateway_detect_dialect"} <= set(info["hooks"])
