"""The agent loop: ask the model (streamed), run the tool calls it makes, feed the results
back, until it answers in text or the step limit is reached."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from contrib.agent.printer import Printer
from contrib.agent.toolbox import Toolbox


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class AgentResult:
    answer: str
    calls: list[ToolCall] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    steps: int = 0
    stopped_at_limit: bool = False


def _extra(delta: Any, key: str) -> Any:
    """A non-OpenAI field of a streamed delta (the gateway's `reasoning_content`)."""
    value = getattr(delta, key, None)
    if value is None:
        value = (getattr(delta, "model_extra", None) or {}).get(key)
    return value


class Agent:
    """One conversation; `run(task)` may be called again with a follow-up."""

    def __init__(self, client: Any, model: str, toolbox: Toolbox, *, max_steps: int = 6,
                 max_tokens: int = 400, temperature: float = 0.0, system: str | None = None,
                 first_tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                 printer: Printer | None = None) -> None:
        self.client = client
        self.model = model
        self.toolbox = toolbox
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.first_tool_choice = first_tool_choice
        self.parallel_tool_calls = parallel_tool_calls
        self.printer = printer or Printer()
        self.system = system
        self.messages: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    def run(self, task: str) -> AgentResult:
        self.messages.append({"role": "user", "content": task})
        result = AgentResult(answer="")
        seen: dict[tuple[str, str], str] = {}
        tool_choice: str = self.first_tool_choice
        for step in range(1, self.max_steps + 1):
            result.steps = step
            if step == self.max_steps and tool_choice != "none" and self.toolbox.tools:
                # the last step must answer: a clear stop, not a cut-off in mid-plan
                self.printer.note(f"step {step} of {self.max_steps}: the answer, without tools")
                result.stopped_at_limit = True
                tool_choice = "none"
            content, calls = self._ask(tool_choice)
            if not calls:
                self.messages.append({"role": "assistant", "content": content})
                result.answer = content
                return result
            self.messages.append({"role": "assistant", "content": content or None,
                                  "tool_calls": [{"id": c.id, "type": "function", "function": {
                                      "name": c.name, "arguments": c.arguments}} for c in calls]})
            repeated = False
            for call in calls:
                key = (call.name, _canonical(call.arguments))
                if key in seen:
                    # the same call again is a loop, not a plan: not run again; the earlier
                    # result is given back and the next step must answer from it
                    repeated = True
                    output = seen[key]
                else:
                    output = seen[key] = self.toolbox.run(call.name, call.arguments)
                    result.calls.append(call)
                    result.results.append(output)
                self.printer.result(call.name, output)
                self.messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
            tool_choice = "none" if repeated else "auto"
        return result

    def _ask(self, tool_choice: str) -> tuple[str, list[ToolCall]]:
        kw: dict[str, Any] = {}
        if self.toolbox.tools:
            kw = {"tools": self.toolbox.specs(), "tool_choice": tool_choice}
            if self.parallel_tool_calls is not None and tool_choice != "none":
                kw["parallel_tool_calls"] = self.parallel_tool_calls
        stream = self.client.chat.completions.create(
            model=self.model, messages=self.messages, stream=True, max_tokens=self.max_tokens,
            temperature=self.temperature, **kw)
        content: list[str] = []
        partial: dict[int, dict[str, str]] = {}
        p = self.printer
        for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            thought = _extra(delta, "reasoning_content")
            if thought:
                p.thought(thought)
            if delta.content:
                p.content(delta.content)
                content.append(delta.content)
            for tc in delta.tool_calls or []:
                slot = partial.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
        p.end_text()
        calls = [ToolCall(s["id"] or f"call_{i}", s["name"], s["arguments"] or "{}")
                 for i, s in sorted(partial.items())]
        for c in calls:
            p.call(c.name, c.arguments)
        return "".join(content), calls


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), sort_keys=True)
    except ValueError:
        return arguments


