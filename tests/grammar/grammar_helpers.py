"""Helpers shared by the grammar tests: compiled grammars and validation with formats."""

from __future__ import annotations

import datetime
import ipaddress
import re
import uuid
from functools import cache
from typing import Any

import jsonschema

from gateway.grammar import schema_to_gbnf
from tests.grammar.gbnf_recognizer import Grammar, parse_gbnf

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(v: object) -> bool:
    return not isinstance(v, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", v)
        and datetime.datetime.fromisoformat(v)
    )


@FORMATS.checks("time", raises=ValueError)
def _time(v: object) -> bool:
    return not isinstance(v, str) or _date_time("2000-01-01T" + v)


@FORMATS.checks("date", raises=ValueError)
def _date(v: object) -> bool:
    return not isinstance(v, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\d", v) and datetime.date.fromisoformat(v))


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(v: object) -> bool:
    return not isinstance(v, str) or bool(re.fullmatch(r"[0-9a-fA-F-]{36}", v) and uuid.UUID(v))


@FORMATS.checks("ipv4", raises=ValueError)
def _ipv4(v: object) -> bool:
    return not isinstance(v, str) or bool(ipaddress.IPv4Address(v))


@FORMATS.checks("uri")
def _uri(v: object) -> bool:
    return not isinstance(v, str) or bool(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*:[^\s\"<>\\^`{|}]*", v))


@FORMATS.checks("hostname")
def _hostname(v: object) -> bool:
    label = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    return not isinstance(v, str) or bool(re.fullmatch(rf"{label}(\.{label})*", v))


@FORMATS.checks("email")
def _email(v: object) -> bool:
    return not isinstance(v, str) or bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v))


def is_valid(schema: Any, value: Any) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=FORMATS).is_valid(value)


@cache
def compiled(name: str, strict: bool = True) -> Grammar:
    from tests.grammar.schemas import SCHEMAS

    return parse_gbnf(schema_to_gbnf(SCHEMAS[name], strict=strict))


def _patch_hypothesis_jsonschema() -> None:
    """hypothesis-jsonschema 0.23.1 calls ``many(...).more()``, which newer Hypothesis
    (6.150+) replaced by a context-manager iterator; adapt so object schemas still work."""
    from hypothesis.internal.conjecture import utils as cu
    from hypothesis_jsonschema import _from_schema

    if hasattr(cu.many, "more"):
        return
    real_many = cu.many

    class _Many:
        def __init__(self, data: Any, **kw: Any) -> None:
            self._m = real_many(data, **kw)
            self._m.__enter__()
            self._it = iter(self._m)

        def more(self) -> bool:
            try:
                next(self._it)
                return True
            except StopIteration:
                self._m.__exit__(None)
                return False

        def reject(self, why: str | None = None) -> None:
            self._m.reject(why)

    class _Cu:
        def __getattr__(self, name: str) -> Any:
            return _Many if name == "many" else getattr(cu, name)

    _from_schema.cu = _Cu()  # type: ignore[attr-defined]


_patch_hypothesis_jsonschema()
