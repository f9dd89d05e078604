"""The call syntax: `<call:NAME>{"arg": ...}</call>`, several calls one per line.

Change these and `render_call` to give the dialect another syntax; the grammar and the parser
are built from them.
"""

from __future__ import annotations

import json
from typing import Any

OPEN, END_NAME, CLOSE = "<call:", ">", "</call>"
SEPARATOR = "\n"  # between calls, as the history renders them and the grammar allows


def render_call(name: str, arguments: Any) -> str:
    """One call as the model should write it: compact JSON, exactly what the grammar allows,
    so the history shows the model the form it will be held to."""
    if isinstance(arguments, str):  # OpenAI history carries arguments as a JSON string
        arguments = json.loads(arguments) if arguments.strip() else {}
    args = json.dumps(arguments or {}, ensure_ascii=False, separators=(",", ":"))
    return f"{OPEN}{name}{END_NAME}{args}{CLOSE}"
