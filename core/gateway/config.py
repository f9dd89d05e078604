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
    # A non-streamed answer without tools of at most this many tokens (an explicit max_tokens)
    # is asked of llama.cpp non-streamed: llama.cpp's own streaming wakes its HTTP thread for
    # every token, a core taken from decoding. A client that hangs up on such a request costs
    # at most these tokens of decoding (only a stream's close stops llama.cpp). 0: never.
    unstreamed_max_tokens: int = 128
    # text a (non-lazy) grammar forces goes into the prompt, not through decoding
    # (gateway.jumpforward)
    jump_forward: bool = True
    # a chat template comes from a model file: bounded like any untrusted input
    template_timeout: float = 10.0  # seconds one render may take
    max_prompt_chars: int = 32 * 1024 * 1024  # the rendered prompt and strings built for it
    grammar_limits: GrammarLimits = field(default_factory=GrammarLimits)
    dialect_options: dict[str, Any] = field(default_factory=dict)  # e.g. tool_style
    api_key: str | None = None
    # schemas without an explicit `strict` are treated as strict (refuse, never drop)
    strict_default: bool = False
