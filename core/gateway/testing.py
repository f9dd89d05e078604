"""The dialect conformance suite: every dialect plugin subclasses `DialectConformance` with
its golden outputs and gets the same checks.

    class TestHermes(DialectConformance):
        dialect = HermesDialect()
        goldens = [Golden("one call", '<tool_call>{"name":"f","arguments":{}}</tool_call>',
                          calls=[("f", {})], tags={"empty_arguments"}), ...]

Checks: the non-streaming parse equals the golden; the text fed in two pieces split at every
possible point, and fed character by character, reassembles to exactly the non-streaming
result; every call starts with a delta carrying id and name; arguments are JSON strings;
malformed output loses nothing and never yields a call with broken arguments; the goldens
cover empty arguments, several calls, content before a call and malformed output. A dialect
that cannot meet one declares it in `exceptions` (test name → reason), the one visible place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from gateway.dialect import Delta, Dialect, ParsedOutput, RequestContext, ToolDef, assemble

REQUIRED_TAGS = frozenset({"empty_arguments", "several_calls", "content_before_call",
                           "malformed"})

WEATHER = ToolDef("get_weather", "Weather for a city", {
    "type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"enum": ["c", "f"]}}, "required": ["city"]})
CLOCK = ToolDef("get_time", "Current time", {"type": "object", "properties": {}})


@dataclass
class Golden:
    name: str
    text: str
    content: str | None = None
    reasoning: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, parsed arguments)
    tags: set[str] = field(default_factory=set)
    ctx: dict[str, Any] = field(default_factory=dict)  # RequestContext overrides


def parse_all(dialect: Dialect, ctx: RequestContext, pieces: list[str]) -> list[Delta]:
    parser = dialect.create_parser(ctx)
    out: list[Delta] = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    out.extend(parser.finish())
    return out


def _norm(p: ParsedOutput) -> tuple[Any, ...]:
    return (p.content, p.reasoning, [(c.name, c.arguments) for c in p.tool_calls])


class DialectConformance:
    dialect: ClassVar[Dialect]
    goldens: ClassVar[list[Golden]] = []
    tools: ClassVar[list[ToolDef]] = [WEATHER, CLOCK]
    exceptions: ClassVar[dict[str, str]] = {}

    def context(self, golden: Golden) -> RequestContext:
        ctx = RequestContext(messages=[{"role": "user", "content": "hi"}], tools=list(self.tools),
                             dialect=self.dialect)
        for k, v in golden.ctx.items():
            setattr(ctx, k, v)
        return ctx

    def _skip(self, name: str) -> None:
        if name in self.exceptions:
            pytest.skip(f"declared exception: {self.exceptions[name]}")

    def _each(self) -> list[tuple[Golden, RequestContext]]:
        assert self.goldens, "a conformance subclass needs goldens"
        return [(g, self.context(g)) for g in self.goldens]

    def test_goldens_cover_required_cases(self) -> None:
        self._skip("test_goldens_cover_required_cases")
        covered = set().union(*(g.tags for g in self.goldens))
        missing = REQUIRED_TAGS - covered - set(self.exceptions)
        assert not missing, f"goldens lack cases tagged {sorted(missing)}"

    def test_non_streaming_parse(self) -> None:
        for g, ctx in self._each():
            if "malformed" in g.tags:
                continue
            got = assemble(parse_all(self.dialect, ctx, [g.text]))
            assert got.content == g.content, g.name
            assert got.reasoning == g.reasoning, g.name
            assert [c.name for c in got.tool_calls] == [n for n, _ in g.calls], g.name
            for call, (_, args) in zip(got.tool_calls, g.calls, strict=True):
                assert isinstance(call.arguments, str), g.name
                assert json.loads(call.arguments) == args, g.name

    def test_stream_split_everywhere(self) -> None:
        self._skip("test_stream_split_everywhere")
        for g, ctx in self._each():
            whole = _norm(assemble(parse_all(self.dialect, ctx, [g.text])))
            for i in range(len(g.text) + 1):
                pieces = [g.text[:i], g.text[i:]]
                got = _norm(assemble(parse_all(self.dialect, ctx, pieces)))
                assert got == whole, f"{g.name}: split at {i} gives {got} != {whole}"

    def test_stream_char_by_char(self) -> None:
        self._skip("test_stream_char_by_char")
        for g, ctx in self._each():
            whole = _norm(assemble(parse_all(self.dialect, ctx, [g.text])))
            got = _norm(assemble(parse_all(self.dialect, ctx, list(g.text))))
            assert got == whole, g.name

    def test_call_deltas_start_with_id_and_name(self) -> None:
        for g, ctx in self._each():
            started: set[int] = set()
            ids: set[str] = set()
            for d in parse_all(self.dialect, ctx, list(g.text)):
                if d.kind == "tool_start":
                    assert d.id and d.name, g.name
                    assert d.id not in ids, f"{g.name}: duplicate call id"
                    ids.add(d.id)
                    started.add(d.index)
                elif d.kind == "tool_args":
                    assert d.index in started, f"{g.name}: arguments before the call's start"

    def test_malformed_output_loses_nothing(self) -> None:
        self._skip("test_malformed_output_loses_nothing")
        for g, ctx in self._each():
            if "malformed" not in g.tags:
                continue
            got = assemble(parse_all(self.dialect, ctx, [g.text]))
            for call in got.tool_calls:
                json.loads(call.arguments)  # never a call with broken arguments
            if not got.tool_calls:
                text = (got.reasoning or "") + (got.content or "")
                assert text.strip(), f"{g.name}: malformed output vanished"
            if g.content is not None:
                assert got.content == g.content, g.name


def plugins_listed_in_fresh_env(plugin_dir: str, workdir: str) -> list[dict[str, Any]]:
    """Install the core and ONE plugin into a new virtual environment and return what
    `gateway plugins` lists there (discovery through the installed entry point only)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import gateway

    root = Path(gateway.__file__).resolve().parents[2]  # the repo: pyproject.toml of the core
    venv = Path(workdir) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([*pip, str(root), str(plugin_dir)], check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GATEWAY_LOAD_PLUGINS")}
    out = subprocess.run([str(venv / "bin" / "gateway"), "plugins"], check=True,
                         capture_output=True, text=True, env=env, cwd=workdir, timeout=120)
    listed: list[dict[str, Any]] = json.loads(out.stdout)
    return listed
