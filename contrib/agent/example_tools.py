"""Safe example tools: none of them runs code, touches the network or writes a file."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import math
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max,
    "log": math.log, "sin": math.sin, "cos": math.cos, "tan": math.tan}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_POWER = 1000  # 10**10**10 would hang the agent, not answer it


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise ValueError(f"exponent over {_MAX_POWER}")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS and not node.keywords):
        return _FUNCTIONS[node.func.id](*[_evaluate(a) for a in node.args])
    raise ValueError(f"not arithmetic: {ast.unparse(node) if isinstance(node, ast.expr) else node}")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression and return the number.

    Args:
        expression: arithmetic with + - * / // % ** and parentheses, e.g. "17*23" or
            "sqrt(2)*3"; also pi, e, sqrt, abs, round, min, max, log, sin, cos, tan.
    """
    value = _evaluate(ast.parse(expression.replace("^", "**").replace("×", "*"), mode="eval"))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


def current_time(timezone: str = "UTC") -> str:
    """The current date and time (ISO 8601) and the weekday in a time zone.

    Args:
        timezone: an IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc
    now = dt.datetime.now(zone)
    return f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {timezone})"


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """The current weather in a city (a stub: made-up but stable values, no network).

    Args:
        city: the city name, e.g. "Paris".
        unit: the temperature unit.
    """
    seed = int.from_bytes(hashlib.sha256(city.strip().lower().encode()).digest()[:4], "big")
    celsius = seed % 35 - 5
    sky = ["sunny", "cloudy", "rain", "windy", "snow" if celsius < 2 else "fog"][seed % 5]
    temp = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {"city": city, "temperature": temp, "unit": unit, "sky": sky}


def file_reader(root: str | Path, max_chars: int = 20_000) -> Callable[[str], str]:
    """A `read_file` tool that can read only files under `root`."""
    base = Path(root).resolve()

    def read_file(path: str) -> str:
        """Read a text file and return its content (the start of it, if long).

        Args:
            path: the file's path, relative to the agent's files folder.
        """
        target = (base / path).resolve()
        if not target.is_relative_to(base):
            raise PermissionError(f"{path!r} is outside the folder the agent may read")
        if not target.is_file():
            raise FileNotFoundError(f"no file {path!r} in the agent's folder")
        text = target.read_text(errors="replace")
        return text if len(text) <= max_chars else text[:max_chars] + "\n[... cut]"

    return read_file


def example_tools(files_root: str | Path = ".") -> list[Callable[..., Any]]:
    return [calculate, current_time, get_weather, file_reader(files_root)]
