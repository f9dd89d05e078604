"""Shared fixtures of the llama3 plugin's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gateway
import pytest
from gateway.templating import ChatTemplate

# <repo>/../shared/templates (the repo is the parent of core/)
TEMPLATES = Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"


def _load(name: str) -> ChatTemplate:
    path = TEMPLATES / name
    if not path.exists():
        pytest.skip(f"chat template fixtures not found at {TEMPLATES}")
    return ChatTemplate(path.read_text(), name=name)


@pytest.fixture(scope="session")
def load_template() -> Callable[[str], ChatTemplate]:
    """Compiles a template of ../shared/templates by file name (skips when absent)."""
    return _load


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    if not TEMPLATES.is_dir():
        pytest.skip(f"chat template fixtures not found at {TEMPLATES}")
    return TEMPLATES
