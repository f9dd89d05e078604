"""gateway plugin: the `mistral` dialect for Mistral models, whose calls follow
`[TOOL_CALLS]`: a JSON array (Nemo), `NAME[CALL_ID]id[ARGS]{...}` (Small 3.2) or
`NAME[ARGS]{...}` (Ministral 3 / Magistral, with `[THINK]` reasoning)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .dialect import MistralDialect, detect

__all__ = ["DIALECT", "MistralDialect", "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = MistralDialect()


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return detect(template.source)
