"""Shared fixtures of the hermes plugin's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway.templating import ChatTemplate
from gateway.testing import shared_template, shared_templates_dir


@pytest.fixture(scope="session")
def load_template() -> Callable[[str], ChatTemplate]:
    """Compiles a template of ../shared/templates by file name (fails when absent)."""
    return shared_template


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    return shared_templates_dir()
