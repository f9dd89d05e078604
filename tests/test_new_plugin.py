"""`make new-plugin NAME=x`: the generated plugin passes its own tests as generated, installs,
and `gateway plugins` lists it; the README's "Writing a dialect" is its walkthrough."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gateway.pytest_plugin import start_gateway
from gateway.testing import fresh_env

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "contrib" / "plugin-template"
NAME = "demo-kit"  # → gateway-plugin-demo-kit, package gateway_plugin_demo_kit, DemoKitDialect
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"], "additionalProperties": False}}}


def make_plugin(dest: Path, name: str = NAME) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", "-C", str(REPO), "new-plugin", f"NAME={name}",
                           f"DEST={dest}", f"PYTHON={sys.executable}"],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("plugins")
    done = make_plugin(dest)
    assert done.returncode == 0, done.stderr
    return dest / f"gateway-plugin-{NAME}"


def test_generated_files_are_renamed(generated: Path) -> None:
    package = generated / "gateway_plugin_demo_kit"
    assert {p.name for p in package.iterdir()} >= {"__init__.py", "dialect.py", "parser.py",
                                                    "syntax.py", "py.typed"}
    assert 'demo-kit = "gateway_plugin_demo_kit"' in (generated / "pyproject.toml").read_text()
    assert "class DemoKitDialect(Dialect):" in (package / "dialect.py").read_text()
    for path in generated.rglob("*"):
        if path.is_file():
            assert "skeleton" not in path.read_text().lower(), path


def test_generated_tests_pass_as_generated(generated: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(generated)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(generated), str(generated / "tests")],
                          capture_output=True, text=True, env=env, cwd=generated, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, summary
    assert int(summary.split()[0]) >= 15, summary  # conformance + grammar + hooks


def test_bad_names_and_existing_folders_are_refused(generated: Path) -> None:
    for name in ("Bad Name", "generic", "9lives", ""):
        done = make_plugin(generated.parent, name)
        assert done.returncode != 0, name
    again = make_plugin(generated.parent)
    assert again.returncode != 0 and "exists already" in again.stderr


def test_readme_writing_a_dialect_is_the_walkthrough() -> None:
    def section(text: str) -> str:
        start = text.index("## Writing a dialect")
        end = text.find("\n## ", start + 1)
        return text[start:end if end != -1 else None].strip()

    readme = (REPO / "README.md").read_text()
    walkthrough = (TEMPLATE / "gateway-plugin-skeleton" / "README.md").read_text()
    assert section(readme) == section(walkthrough)


@pytest.mark.e2e
def test_generated_plugin_installs_is_listed_and_serves(generated: Path, tmp_path: Path,
                                                        backend_url: str) -> None:
    with fresh_env(str(generated), str(tmp_path)) as (python, found):
        listed = {p["name"]: p for p in found}
        serve_from(python, listed, tmp_path, backend_url)


def serve_from(python: Path, listed: dict[str, Any], tmp_path: Path, backend_url: str) -> None:
    mine = listed[NAME]
    assert mine["module"] == "gateway_plugin_demo_kit"
    assert mine["version"] == "0.1.0"
    assert mine["dialects"] == [NAME]
    assert set(mine["hooks"]) == {"gateway_register_dialects", "gateway_detect_dialect"}
    assert set(listed) == {"generic", NAME}  # found through its entry point alone
    # and it serves: the fresh environment's gateway, the generated dialect, the real model
    gw = start_gateway("--endpoint", backend_url, "--plugin", NAME, log_dir=str(tmp_path),
                       python=str(python))
    try:
        client = gw.openai()
        assert client.models.list().data[0].model_extra["meta"]["dialect"] == NAME
        r = client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER], tool_choice="required", max_tokens=60, temperature=0, seed=1)
        calls = r.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls][:1] == ["get_weather"], gw.log()[-2000:]
        args = json.loads(calls[0].function.arguments)
        assert isinstance(args["city"], str) and set(args) <= {"city", "unit"}
    finally:
        gw.stop()
