"""Serve-time settings; every bound is explicit and configurable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.grammar import GrammarLimits


@dataclass
class Settings:
    max_body_bytes: int = 4 * 1024 * 1024
    max_tools: int = 128
    max_stop_words: int = 16
    max_concurrent: int = 64  # requests in flight; more get 429
    request_timeout: float = 600.0
    # a chat template comes from a model file: bounded like any untrusted input
    template_timeout: float = 10.0  # seconds one render may take
    max_prompt_chars: int = 32 * 1024 * 1024  # the rendered prompt and strings built for it
    grammar_limits: GrammarLimits = field(default_factory=GrammarLimits)
    dialect_options: dict[str, Any] = field(default_factory=dict)  # e.g. tool_style
    api_key: str | None = None
    # schemas without an explicit `strict` are treated as strict (refuse, never drop)
    strict_default: bool = False
