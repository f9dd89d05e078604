"""gateway plugin: the `harmony` dialect for gpt-oss, whose tool calls are Harmony messages
`<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>{...}<|call|>`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .dialect import HarmonyDialect, detect

__all__ = ["DIALECT", "HarmonyDialect", "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = HarmonyDialect()


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return detect(template.source)
