"""gateway plugin: the `llama3` dialect for Llama 3.1 / 3.2 / 3.3, whose calls are a JSON
object `{"name": ..., "parameters": {...}}` or, for built-in tools, `<|python_tag|>` code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .dialect import Llama3Dialect, detect

__all__ = ["DIALECT", "Llama3Dialect", "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = Llama3Dialect()


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return detect(template.source)
