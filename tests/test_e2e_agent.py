"""contrib/agent end to end on the demo model: the command a newcomer runs (`python -m
contrib.agent --prompt ...`, which starts its own gateway when none is given) and the
Agent class against the shared gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contrib.agent import Agent, Toolbox
from contrib.agent.example_tools import example_tools
from contrib.agent.printer import Printer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def _agent_cmd(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "contrib.agent", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_prompt_mode_calls_a_tool_and_answers(gateway_server):
    done = _agent_cmd("--base-url", gateway_server.url + "/v1", "--prompt", "What is 17*23?",
                      "--max-tokens", "96")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    calls = [ln for ln in lines if ln.startswith("→ call ")]
    results = [ln for ln in lines if ln.startswith("← ")]
    assert calls and results, done.stdout
    # the answer comes after the last result (the demo model's default: one round of
    # calls, then the answer without tools)
    after = lines[lines.index(results[-1]) + 1:]
    assert "[step 2 of 2: the answer, without tools]" in after, done.stdout
    assert any(ln.strip() and not ln.startswith("[") for ln in after), done.stdout
    assert "tool call(s)]" in done.stderr


def test_without_base_url_starts_its_own_gateway(tmp_path):
    """The newcomer's path: no server running; the agent starts `gateway serve` on the demo
    model, runs the task and stops the gateway again (port 8080 busy or not, it succeeds)."""
    done = _agent_cmd("--prompt", "What is the weather in Oslo?", "--max-tokens", "96")
    assert done.returncode == 0, done.stderr
    assert "→ call " in done.stdout and "← " in done.stdout, done.stdout
    if "starting `gateway serve" in done.stderr:
        assert "gateway ready after" in done.stderr


def test_agent_class_loop_feeds_results_back(gateway_server, tmp_path, capsys):
    box = Toolbox(example_tools(tmp_path))
    agent = Agent(gateway_server.openai(), "demo", box, max_steps=2, max_tokens=96,
                  first_tool_choice="required", printer=Printer(color=False))
    result = agent.run("What is the weather in Paris?")
    assert result.calls and all(c.name in box.tools for c in result.calls)
    assert len(result.results) == len(result.calls) and result.answer.strip()
    roles = [m["role"] for m in agent.messages]
    assert roles[:3] == ["user", "assistant", "tool"] and roles[-1] == "assistant"
    assert agent.messages[1]["tool_calls"][0]["id"] == agent.messages[2]["tool_call_id"]
    out = capsys.readouterr().out
    assert "→ call " in out and "← " in out


def test_interactive_session_with_the_users_tools(gateway_server, tmp_path):
    """Piped stdin drives the interactive loop: a user's module is the only tool, the model
    calls it, the conversation goes on to a second task, /quit ends it with 0."""
    (tmp_path / "shop_tools.py").write_text(
        "def price(item: str) -> str:\n"
        '    """The price of an item in the shop."""\n'
        "    return f'{item} costs 3 euros'\n")
    done = subprocess.run(
        [sys.executable, "-m", "contrib.agent", "--base-url", gateway_server.url + "/v1",
         "--no-examples", "--tools", str(tmp_path / "shop_tools.py"), "--max-tokens", "64"],
        cwd=ROOT, input="How much is a banana?\n/tools\nAnd an apple?\n/quit\n",
        capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("tools: price\n"), out
    assert out.count("→ call price(") >= 2 and "costs 3 euros" in out, out
    assert "  price: The price of an item in the shop." in out
