"""`python -m contrib.agent`: chat with a model that can call Python functions.

    python -m contrib.agent                              # interactive
    python -m contrib.agent --prompt "What is 17*23?"    # one task, then exit
    python -m contrib.agent --tools my_tools.py          # your own functions as tools
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import openai

from contrib.agent.code_tool import python_runner
from contrib.agent.endpoint import DEFAULT_URL, StartedGateway, healthy
from contrib.agent.example_tools import example_tools
from contrib.agent.loop import Agent
from contrib.agent.printer import Printer
from contrib.agent.toolbox import Toolbox

HELP = "commands: /tools (list tools), /reset (new conversation), /quit (or Ctrl-D)"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m contrib.agent", description=(
        "An agent that calls Python functions as tools through any OpenAI-compatible "
        "endpoint (the gateway by default)."))
    ap.add_argument("--prompt", "-p", help="run this one task and exit (no interactive loop)")
    ap.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://host:8080/v1 "
                    f"(default: a gateway on {DEFAULT_URL}, else one started on the demo model)")
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    ap.add_argument("--model", help="model id (default: the endpoint's first model)")
    ap.add_argument("--serve-args", default="", help="arguments for the `gateway serve` the "
                    "agent starts when no endpoint is found, e.g. \"--model my.gguf\"")
    ap.add_argument("--tools", action="append", default=[], metavar="MODULE",
                    help="a module (dotted name or .py file) whose functions become tools: "
                         "its TOOLS list if it has one, else its public functions (repeatable)")
    ap.add_argument("--no-examples", action="store_true", help="leave out the example tools")
    ap.add_argument("--files", default=".", help="the folder read_file may read (default: .)")
    ap.add_argument("--allow-code", action="store_true",
                    help="add run_python: model-written code runs in a separate process")
    ap.add_argument("--code-timeout", type=float, default=10.0, help="seconds, for run_python")
    ap.add_argument("--max-steps", type=int,
                    help="model calls per task; the last one must answer without tools "
                         "(default: 6; 2 on the demo model: one round of calls, then the answer)")
    ap.add_argument("--max-tokens", type=int, help="per model call (default: 400; 128 on "
                    "the demo model)")
    ap.add_argument("--parallel-tool-calls", action=argparse.BooleanOptionalAction,
                    help="let the model make several calls at once (default: the endpoint's; "
                         "off on the demo model)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--tool-choice", choices=["auto", "required"],
                    help="for the first step of each task; later steps are auto (default: "
                         "auto; required on the demo model, which seldom chooses a tool)")
    ap.add_argument("--system", help="a system message")
    return ap


def load_tools_module(ref: str) -> list[Callable[..., Any]]:
    """A .py file or an importable module → its tools."""
    module: ModuleType
    if ref.endswith(".py") or os.sep in ref:
        path = Path(ref).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {ref}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(ref)
    explicit = getattr(module, "TOOLS", None)
    if explicit is not None:
        return list(explicit)
    return [fn for name, fn in vars(module).items() if inspect.isfunction(fn)
            and not name.startswith("_") and fn.__module__ == module.__name__]


def build_toolbox(a: argparse.Namespace) -> Toolbox:
    box = Toolbox(example_tools(a.files) if not a.no_examples else [])
    for ref in a.tools:
        for fn in load_tools_module(ref):
            box.add(fn)
    if a.allow_code:
        box.add(python_runner(timeout=a.code_timeout))
    return box


def is_demo_model(model: str) -> bool:
    return "smollm2-135m" in model.lower()


def loop_defaults(model: str) -> dict[str, Any]:
    """Defaults for what the user did not set. A 135M model answers "17*23" in words when it
    may choose, adds calls at random when it may make several, calls tools at random after
    a result rather than answer, and repeats its answer until max_tokens: on the demo model
    the agent requires one call, then asks for a short answer."""
    if is_demo_model(model):
        return {"tool_choice": "required", "max_steps": 2, "parallel_tool_calls": False,
                "max_tokens": 128}
    return {"tool_choice": "auto", "max_steps": 6, "parallel_tool_calls": None,
            "max_tokens": 400}


def _interactive(agent: Agent) -> int:
    print(f"tools: {', '.join(agent.toolbox.tools) or '(none)'}\n{HELP}")
    while True:
        try:
            line = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/reset":
            agent.reset()
            print("[new conversation]")
            continue
        if line == "/tools":
            for t in agent.toolbox.tools.values():
                print(f"  {t.name}: {t.description}")
            continue
        try:
            agent.run(line)
        except KeyboardInterrupt:
            print("\n[interrupted]")


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        toolbox = build_toolbox(a)
    except (ImportError, TypeError, ValueError, OSError) as exc:
        print(f"agent: cannot load tools: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        base = a.base_url
        if base is None:
            if healthy(DEFAULT_URL):
                base = DEFAULT_URL + "/v1"
            else:
                try:
                    base = stack.enter_context(StartedGateway(a.serve_args)).url + "/v1"
                except RuntimeError as exc:
                    print(f"agent: {exc}", file=sys.stderr)
                    return 2
        client = openai.OpenAI(base_url=base, api_key=a.api_key, max_retries=1)
        try:
            model = a.model or client.models.list().data[0].id
            d = loop_defaults(model)
            choice = a.tool_choice or d["tool_choice"]
            steps = a.max_steps or d["max_steps"]
            parallel = d["parallel_tool_calls"] if a.parallel_tool_calls is None \
                else a.parallel_tool_calls
            agent = Agent(client, model, toolbox, max_steps=max(1, steps),
                          max_tokens=a.max_tokens or d["max_tokens"],
                          temperature=a.temperature, system=a.system,
                          first_tool_choice=choice, parallel_tool_calls=parallel,
                          printer=Printer())
            print(f"[model {model} at {base}; first step tool_choice={choice}, "
                  f"at most {steps} steps, parallel_tool_calls={parallel}]",
                  file=sys.stderr, flush=True)
            if a.prompt is None:
                return _interactive(agent)
            result = agent.run(a.prompt)
        except openai.APIError as exc:
            print(f"agent: the endpoint answered an error: {exc}", file=sys.stderr)
            return 1
        print(f"[done in {result.steps} step(s), {len(result.calls)} tool call(s)]",
              file=sys.stderr)
        return 0
