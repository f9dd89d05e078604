"""The markup of Llama 3.x tool calls and Meta's built-in tools."""

from __future__ import annotations

from typing import Any

from gateway.dialect import ToolDef

PYTHON_TAG, EOM, EOT = "<|python_tag|>", "<|eom_id|>", "<|eot_id|>"
IPYTHON = "<|start_header_id|>ipython<|end_header_id|>\n\n"  # the turn of a tool result
HEAD = '{"name": '  # a call as the templates render it: {"name": "f", "parameters": {...}}
# Starts of a call object the parser recognises (unconstrained output varies its spacing)
JSON_STARTS = ('{"name"', '{"type"', '{ "name"', '{ "type"')
WS = " \t\r\n"
# Meta's built-in tools: search tools are called as `<|python_tag|>NAME.call(query="...")`,
# the code interpreter as `<|python_tag|>` followed by the code itself.
SEARCH_TOOLS = ("brave_search", "wolfram_alpha")
CODE_TOOLS = ("code_interpreter", "python")


def string_keys(tool: ToolDef) -> list[str] | None:
    """The required keys of a search tool if all are strings (the `.call(k="v")` form can
    hold only those), else None: the tool is then called in the JSON form."""
    params: Any = tool.parameters
    props = params.get("properties") if isinstance(params, dict) else None
    required = params.get("required") if isinstance(params, dict) else None
    if not isinstance(props, dict) or not required or not isinstance(required, list):
        return None
    if any(not isinstance(props.get(k), dict) or props[k].get("type") != "string"
           for k in required):
        return None
    return [str(k) for k in required]


def code_key(tool: ToolDef) -> str | None:
    """The one string property a code tool takes (`code`), else None."""
    params: Any = tool.parameters
    props = params.get("properties") if isinstance(params, dict) else None
    if not isinstance(props, dict) or len(props) != 1:
        return None
    key, schema = next(iter(props.items()))
    return key if isinstance(schema, dict) and schema.get("type") == "string" else None


def builtin_tools(tools: list[ToolDef]) -> dict[str, str]:
    """Offered tools that are Meta built-ins, by name → "search" or "code"."""
    out: dict[str, str] = {}
    for t in tools:
        if t.name in SEARCH_TOOLS and string_keys(t):
            out[t.name] = "search"
        elif t.name in CODE_TOOLS and code_key(t):
            out[t.name] = "code"
    return out


def partial_tail(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of text that is a proper prefix of a marker."""
    for k in range(min(len(text), max(len(m) for m in markers) - 1), 0, -1):
        if any(m.startswith(text[-k:]) and len(m) > k for m in markers):
            return k
    return 0


def first_marker(text: str, markers: tuple[str, ...]) -> tuple[int, str | None]:
    best, found = len(text), None
    for m in markers:
        i = text.find(m)
        if i != -1 and (i < best or (i == best and found is not None and len(m) > len(found))):
            best, found = i, m
    return best, found
