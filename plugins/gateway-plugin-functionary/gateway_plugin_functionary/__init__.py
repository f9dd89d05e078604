"""gateway plugin: the functionary v3.1 and v3.2 tool-calling dialects (MeetKai).

Entry point `functionary` in the group `gateway.plugins`; `--plugin functionary`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.dialect import Dialect, DialectClaim
from gateway.hookspecs import hookimpl

from .v31 import FunctionaryV31
from .v32 import FunctionaryV32

__version__ = "0.1.0"

V31 = FunctionaryV31()
V32 = FunctionaryV32()
SCORE = 50  # above generic (0): these markups are specific to functionary


@hookimpl
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    register(V31)
    register(V32)


@hookimpl
def gateway_detect_dialect(template: Any, metadata: dict[str, Any]) -> DialectClaim | None:
    return detect(getattr(template, "source", "") or "")


def detect(source: str) -> DialectClaim | None:
    """v3.1 renders calls as `<function=name>` (with `<|python_tag|>` for code); v3.2 writes
    every assistant segment as `>>>recipient` and lists tools in `namespace functions`."""
    if "<function=" in source and "</function>" in source:
        extra = " and <|python_tag|>" if "<|python_tag|>" in source else ""
        return DialectClaim(V31.name, SCORE, f"template renders <function=name>{extra} calls")
    segments = "'>>>'" in source or ">>>all" in source
    if segments and ("namespace" in source or ">>>${recipient}" in source):
        return DialectClaim(V32.name, SCORE,
                            "template renders >>>recipient segments (namespace functions)")
    return None


__all__ = ["V31", "V32", "detect", "gateway_detect_dialect", "gateway_register_dialects"]
