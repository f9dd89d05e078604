"""Typed `--dialect-option KEY=VALUE` settings, checked once at start-up.

A dialect declares the options it reads (`Dialect.options`); `parse_dialect_options` turns
the command line's text into typed values, and refuses an option no loaded dialect
declares (a typo) or a value of the wrong type, with a message naming both. Requests then
read ready values from `RequestContext.options`, never parse text per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol


class DialectOptionError(ValueError):
    """A `--dialect-option` is unknown, malformed or has a bad value."""


@dataclass(frozen=True, slots=True)
class DialectOption:
    """One option a dialect reads: an integer (with a minimum) or one of some words."""

    name: str
    kind: Literal["int", "choice"]
    help: str = ""
    minimum: int | None = None
    choices: tuple[str, ...] = ()

    def parse(self, value: Any) -> Any:
        if self.kind == "int":
            try:
                number = value if isinstance(value, int) else int(str(value).strip())
            except ValueError:
                raise DialectOptionError(f"--dialect-option {self.name}={value!r}: expected "
                                         "an integer") from None
            if self.minimum is not None and number < self.minimum:
                raise DialectOptionError(f"--dialect-option {self.name}={value!r}: must be "
                                         f"at least {self.minimum}")
            return number
        if value not in self.choices:
            raise DialectOptionError(f"--dialect-option {self.name}={value!r}: expected one "
                                     f"of {', '.join(self.choices)}")
        return value

    def describe(self) -> str:
        kind = "integer" if self.kind == "int" else "|".join(self.choices)
        return f"{self.name} ({kind})" + (f": {self.help}" if self.help else "")


def int_option(name: str, minimum: int = 0, help: str = "") -> DialectOption:
    return DialectOption(name, "int", help, minimum=minimum)


def choice_option(name: str, *choices: str, help: str = "") -> DialectOption:
    return DialectOption(name, "choice", help, choices=choices)


# Options several dialects share; each dialect keeps its own default where it reads them.
MAX_PARALLEL_CALLS = int_option("max_parallel_calls", 1, "calls one answer may hold")
THINK_MAX_CHARS = int_option("think_max_chars", 0,
                             "characters a reasoning block may take before a call")


class _HasOptions(Protocol):
    name: str
    options: tuple[DialectOption, ...]


def split_option_args(args: Iterable[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` → `{"a": "1", "b": "x"}`; an argument without `=` is an error."""
    out: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise DialectOptionError(f"--dialect-option {arg!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def parse_dialect_options(raw: Mapping[str, Any], dialects: Iterable[_HasOptions]
                          ) -> dict[str, Any]:
    """Typed values for `raw`, checked against every loaded dialect that declares each
    option (the one that will serve is chosen later, from the model's template)."""
    declared: dict[str, list[DialectOption]] = {}
    for dialect in dialects:
        for option in getattr(dialect, "options", ()):
            declared.setdefault(option.name, []).append(option)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            known = "; ".join(sorted(opts[0].describe() for opts in declared.values()))
            raise DialectOptionError(f"--dialect-option {key!r} is not an option of any "
                                     f"loaded dialect; known options: {known or 'none'}")
        for option in declared[key]:
            out[key] = option.parse(value)
    return out
