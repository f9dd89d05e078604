"""gateway plugin: the `auto` dialect, derived from the chat template itself.

For a template that renders tool calls, the call syntax is learned by rendering planted
conversations (one call, three calls, arguments of each type, text, reasoning) and diffing
them; the prompt, grammar and parser follow from that. It claims a template (score 20, below
hand-written dialects) only when the derived parser reads the template's own renderings back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .derive import DeriveError, derive
from .dialect import AutoDialect
from .spec import Spec, Tagged

__all__ = ["DIALECT", "AutoDialect", "DeriveError", "Spec", "Tagged", "derive", "explain",
           "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = AutoDialect()


def explain(template: Any) -> str:
    """What auto derives for a template, or why it cannot (for logs and `gateway render`)."""
    return DIALECT.explain(template)


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return DIALECT.claim(template)
