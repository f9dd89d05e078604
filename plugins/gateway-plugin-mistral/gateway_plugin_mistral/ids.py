"""Mistral call ids: exactly 9 alphanumeric characters, or the Nemo and Small 3.2 templates
raise "Tool call IDs should be alphanumeric strings with length 9!".

The gateway gives clients such ids, so its own answers replay as they are. Ids of other
shapes (OpenAI's `call_abc123...`, other servers' UUIDs, none at all) are re-mapped before
rendering, the same way on a call and on its result; the mapping is a hash, so a
conversation replayed turn after turn renders the same prompt (and reuses the KV cache).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from typing import Any

_ALNUM = string.ascii_letters + string.digits
_VALID = re.compile(r"[A-Za-z0-9]{9}")


def valid_id(value: Any) -> bool:
    return isinstance(value, str) and _VALID.fullmatch(value) is not None


def new_id() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(9))


def _hashed(text: str) -> str:
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:12], "big")
    out = []
    for _ in range(9):
        n, r = divmod(n, 62)
        out.append(_ALNUM[r])
    return "".join(out)


class IdMap:
    """Client ids → Mistral ids for one conversation."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._map: dict[str, str] = {}
        # ids already valid stay as they are; no re-mapped id may collide with one of them
        self._taken = {c.get("id") for m in messages for c in m.get("tool_calls") or ()
                       if valid_id(c.get("id"))}
        self._taken |= {m.get("tool_call_id") for m in messages if valid_id(m.get("tool_call_id"))}

    def get(self, original: str) -> str:
        if valid_id(original):
            return original
        if original not in self._map:
            new, salt = _hashed(original), 0
            while new in self._taken:
                salt += 1
                new = _hashed(f"{original}\0{salt}")
            self._taken.add(new)
            self._map[original] = new
        return self._map[original]


def remap_call_ids(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with every call id and tool_call_id in Mistral's shape. A result
    without an id (or with an id no call has) answers the oldest call still unanswered."""
    ids = IdMap(messages)
    open_calls: list[str] = []
    out: list[dict[str, Any]] = []
    for n, msg in enumerate(messages):
        if msg.get("tool_calls"):
            calls = []
            for k, call in enumerate(msg["tool_calls"]):
                original = call.get("id")
                new = ids.get(original if isinstance(original, str) and original
                              else f"gw-call-{n}-{k}")
                open_calls.append(new)
                calls.append({**call, "id": new})
            msg = {**msg, "tool_calls": calls}
        elif msg.get("role") == "tool":
            original = msg.get("tool_call_id")
            if isinstance(original, str) and original and ids.get(original) in open_calls:
                new = ids.get(original)
            elif open_calls:
                new = open_calls[0]
            else:
                new = ids.get(str(original or f"gw-result-{n}"))
            if new in open_calls:
                open_calls.remove(new)
            msg = {**msg, "tool_call_id": new}
        out.append(msg)
    return out
