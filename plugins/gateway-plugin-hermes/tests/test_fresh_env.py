"""Installed alone next to the core, the plugin is discovered through its entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.testing import plugins_listed_in_fresh_env

PLUGIN_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_listed_in_a_fresh_environment(tmp_path: Path) -> None:
    listed = {p["name"]: p for p in plugins_listed_in_fresh_env(str(PLUGIN_DIR), str(tmp_path))}
    hermes = listed["hermes"]
    assert hermes["version"] == "0.1.0"
    assert hermes["module"] == "gateway_plugin_hermes"
    assert set(hermes["hooks"]) == {"gateway_register_dialects", "gateway_detect_dialect"}
    assert hermes["dialects"] == ["hermes"]
    assert "generic" in listed
    assert "functionary" not in listed
