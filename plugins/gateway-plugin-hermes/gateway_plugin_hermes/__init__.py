"""gateway plugin: the `hermes` dialect for models that call tools as
`<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .dialect import HermesDialect, detect

__all__ = ["DIALECT", "HermesDialect", "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = HermesDialect()


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return detect(template.source)
