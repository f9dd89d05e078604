"""The markup of the Hermes tool-call format and what a template tells us about it."""

from __future__ import annotations

from functools import lru_cache

from gateway.templating import ChatTemplate

TOOL_OPEN, TOOL_CLOSE = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
WS = " \t\r\n"


def has_think(template: ChatTemplate | None) -> bool:
    """Qwen 3 / QwQ style: the template knows `<think>` reasoning blocks."""
    return template is not None and THINK_OPEN in template.source


def think_forced_open(template: ChatTemplate | None) -> bool:
    """The generation prompt itself opens `<think>` (QwQ), so output starts as reasoning."""
    if not has_think(template):
        return False
    assert template is not None
    return _forced_open(template)


@lru_cache(maxsize=64)
def _forced_open(template: ChatTemplate) -> bool:
    # A probe render once per template: the text the generation prompt appends.
    msgs = [{"role": "user", "content": "gw-probe"}]
    try:
        tail = template.render(msgs, add_generation_prompt=True)
        head = template.render(msgs, add_generation_prompt=False)
    except Exception:  # a template that needs tools to render: assume no forced block
        return False
    added = tail[len(head):] if tail.startswith(head) else tail[-40:]
    opened = added.rfind(THINK_OPEN)
    return opened != -1 and THINK_CLOSE not in added[opened:]
