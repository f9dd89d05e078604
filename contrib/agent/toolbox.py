"""Python functions as OpenAI tools: the JSON Schema of the arguments comes from the
function's type hints (through pydantic), the descriptions from its docstring."""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

_ARG_LINE = re.compile(r"^\s{2,}(\*{0,2}\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Google-style docstring → (description, {parameter: description}). Only the summary
    and the `Args:` section are read; other sections are left out of the tool description."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    summary: list[str] = []
    params: dict[str, str] = {}
    section, current = "summary", ""
    for line in lines:
        header = line.strip().rstrip(":").lower()
        if line and not line[0].isspace() and line.strip().endswith(":") and header in {
                "args", "arguments", "parameters", "returns", "return", "raises", "yields",
                "examples", "example", "note", "notes"}:
            section = header
            continue
        if section == "summary":
            summary.append(line)
        elif section in {"args", "arguments", "parameters"}:
            m = _ARG_LINE.match(line)
            if m:
                current = m.group(1).lstrip("*")
                params[current] = m.group(2).strip()
            elif current and line.strip():
                params[current] = (params[current] + " " + line.strip()).strip()
    return " ".join(" ".join(summary).split()), params


def _strip_titles(node: Any) -> Any:
    """pydantic titles every property; they add prompt tokens and say nothing new."""
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "title" and isinstance(v, str):
            continue
        if k in ("properties", "$defs", "patternProperties") and isinstance(v, dict):
            out[k] = {name: _strip_titles(s) for name, s in v.items()}
        else:
            out[k] = _strip_titles(v)
    return out


@dataclass
class FunctionTool:
    name: str
    description: str
    fn: Callable[..., Any]
    arguments_model: type[pydantic.BaseModel]

    def parameters(self) -> dict[str, Any]:
        schema = _strip_titles(self.arguments_model.model_json_schema())
        schema.setdefault("properties", {})
        return schema  # type: ignore[no-any-return]

    def spec(self) -> dict[str, Any]:
        """The entry for the request's `tools` list."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters()}}

    def call(self, arguments: str) -> Any:
        """Validate the JSON `arguments` against the signature, then call the function."""
        raw = json.loads(arguments or "{}")
        if not isinstance(raw, dict):
            raise ValueError("arguments must be a JSON object")
        args = self.arguments_model.model_validate(raw)
        return self.fn(**{k: getattr(args, k) for k in type(args).model_fields})


def function_tool(fn: Callable[..., Any], name: str | None = None) -> FunctionTool:
    """Build a tool from a plain function. Every parameter needs a type hint; `*args` and
    `**kwargs` are refused (a model cannot fill them meaningfully)."""
    description, docs = parse_docstring(inspect.getdoc(fn) or "")
    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for pname, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot be described to a model")
        if pname not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter {pname!r} has no type hint")
        default = ... if p.default is p.empty else p.default
        fields[pname] = (hints[pname], pydantic.Field(default, description=docs.get(pname)))
    tool_name = name or fn.__name__
    model = pydantic.create_model(  # type: ignore[call-overload]
        f"{tool_name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields)
    return FunctionTool(tool_name, description or tool_name, fn, model)


class Toolbox:
    """The tools of one agent, by name; runs a call and turns any outcome into text."""

    def __init__(self, functions: list[Callable[..., Any]] | None = None) -> None:
        self.tools: dict[str, FunctionTool] = {}
        for fn in functions or []:
            self.add(fn)

    def add(self, fn: Callable[..., Any] | FunctionTool) -> FunctionTool:
        tool = fn if isinstance(fn, FunctionTool) else function_tool(fn)
        if tool.name in self.tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool
        return tool

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.tools.values()]

    def run(self, name: str, arguments: str) -> str:
        """The tool's result as text for the `tool` message; an error is a result too, so
        the model can read it and correct itself."""
        tool = self.tools.get(name)
        if tool is None:
            return f"error: no tool named {name!r}"
        try:
            result = tool.call(arguments)
        except pydantic.ValidationError as exc:
            return f"error: invalid arguments for {name}: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                for e in exc.errors())
        except Exception as exc:  # a tool's failure is the model's information, not a crash
            return f"error: {type(exc).__name__}: {exc}"
        if isinstance(result, str):
            return result
        return json.dumps(result, ensure_ascii=False, default=str)
