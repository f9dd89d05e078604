"""gateway plugin: the `skeleton` dialect, tool calls written as `<call:NAME>{json}</call>`.

The two hooks every dialect plugin implements: register the dialect, and claim the chat
templates that are its own (detection then checks the claim by a round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .dialect import SkeletonDialect
from .syntax import OPEN

__all__ = ["DIALECT", "SkeletonDialect", "gateway_detect_dialect", "gateway_register_dialects"]

DIALECT = SkeletonDialect()


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    """Claim templates that write calls in this syntax; None for every other template.
    (Without a claim the dialect still serves with `--plugin skeleton` or `--dialect`.)"""
    if OPEN not in getattr(template, "source", ""):
        return None
    return DialectClaim(DIALECT.name, 40, f"template renders {OPEN}NAME> calls")
