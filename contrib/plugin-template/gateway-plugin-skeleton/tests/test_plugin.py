"""The plugin's hooks: its entry point, registration and template claims."""

from __future__ import annotations

import tomllib
from pathlib import Path

import gateway_plugin_skeleton
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate
from gateway.testing import CHATML

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_entry_point_names_the_package() -> None:
    eps = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["gateway.plugins"]
    assert eps == {"skeleton": "gateway_plugin_skeleton"}


def test_registers_its_dialect() -> None:
    plugins = create_plugins([], extra=[("skeleton", gateway_plugin_skeleton)])
    listed = {p["name"]: p for p in plugins.describe()}
    assert set(listed["skeleton"]["hooks"]) == {"gateway_register_dialects",
                                                "gateway_detect_dialect"}
    assert "skeleton" in plugins.dialects


def test_claims_only_templates_that_write_its_calls() -> None:
    own = ChatTemplate("{{ '<call:' }}{% for m in messages %}{{ m.content }}{% endfor %}")
    assert gateway_plugin_skeleton.gateway_detect_dialect(own, {}) is not None
    assert gateway_plugin_skeleton.gateway_detect_dialect(CHATML, {}) is None
