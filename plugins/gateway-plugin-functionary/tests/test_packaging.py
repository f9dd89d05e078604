"""The plugin is found through its installed entry point alone, in a fresh environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.testing import plugins_listed_in_fresh_env

PLUGIN_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_listed_in_a_fresh_env_with_both_dialects(tmp_path):
    listed = {p["name"]: p for p in plugins_listed_in_fresh_env(str(PLUGIN_DIR), str(tmp_path))}
    assert "functionary" in listed and "hermes" not in listed
    mine = listed["functionary"]
    assert mine["dialects"] == ["functionary-v3.1", "functionary-v3.2"]
    assert mine["version"] == "0.1.0"
    assert {"gateway_register_dialects", "gateway_detect_dialect"} <= set(mine["hooks"])
