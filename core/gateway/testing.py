"""The dialect conformance suite: every dialect plugin subclasses `DialectConformance` with
its golden outputs and gets the same checks.

    class TestHermes(DialectConformance):
        dialect = HermesDialect()
        template = shared_template("Qwen-Qwen2.5-7B-Instruct.jinja")  # the model's own
        goldens = [Golden("one call", '<tool_call>\\n{"name": "get_time", "arguments": {}}'
                          '\\n</tool_call>', calls=[("get_time", {})],
                          tags={"empty_arguments"}, grammar=True), ...]

Checks: the non-streaming parse equals the golden; the text fed in two pieces split at every
possible point, and fed character by character, reassembles to exactly the non-streaming
result; every call starts with a delta carrying id and name; arguments are JSON strings;
malformed output loses nothing and never yields a call with broken arguments; the goldens
cover empty arguments, several calls, content before a call and malformed output; every
golden marked grammar=True (text the model may write under the grammar; at least one with a
call) is accepted by the dialect's own grammar (checked with the GBNF recognizer shipped
here: `accepts`, `parse_gbnf`); and calls rendered as history by the dialect's own prompt
parse back exactly (render → parse, one call and several). A dialect that cannot meet one
declares it in `exceptions` (test name → reason), the one visible place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gateway.detection import turn_text
from gateway.dialect import (
    Delta,
    Dialect,
    GrammarPlan,
    OutputParser,
    ParsedOutput,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    assemble,
    request_plan,
)
from gateway.gbnf_recognizer import accepts, parse_gbnf
from gateway.grammar import GrammarLimits, cached_schema_to_gbnf
from gateway.templating import ChatTemplate

__all__ = ["CHATML", "CLOCK", "WEATHER", "DialectCase", "DialectConformance", "Golden",
           "accepts", "fresh_env", "make_case", "parse_all", "parse_gbnf",
           "plugins_listed_in_fresh_env",
           "shared_template", "shared_templates_dir"]

REQUIRED_TAGS = frozenset({"empty_arguments", "several_calls", "content_before_call",
                           "malformed"})

WEATHER = ToolDef("get_weather", "Weather for a city", {
    "type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"enum": ["c", "f"]}}, "required": ["city"]})
CLOCK = ToolDef("get_time", "Current time", {"type": "object", "properties": {}})
# A plain ChatML template (no tool support of its own): what the round trip renders through
# when a conformance class names no template.
CHATML = ChatTemplate(
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content or '' }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    name="chatml", eos_token="<|im_end|>")
_LIMITS = GrammarLimits()


@dataclass
class Golden:
    name: str
    text: str
    content: str | None = None
    reasoning: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, parsed arguments)
    tags: set[str] = field(default_factory=set)
    ctx: dict[str, Any] = field(default_factory=dict)  # make_case keywords
    # True: the model may write exactly this under the dialect's grammar, so the grammar
    # must accept it (goldens of unconstrained output, e.g. a template's own spacing, not).
    grammar: bool = False


@dataclass(frozen=True, slots=True)
class DialectCase:
    """One request as the core hands it to a dialect, for dialect unit tests: its data, the
    served model (template, dialect, options) and the schema-grammar builder (the core's
    converter, the answer's token budget)."""

    ctx: RequestContext
    model: ServedModel
    grammars: SchemaGrammars

    @property
    def dialect(self) -> Dialect:
        return self.model.dialect

    @property
    def template(self) -> ChatTemplate:
        return self.model.template

    def prompt(self) -> str:
        return self.dialect.render_prompt(self.ctx, self.model)

    def plan(self) -> GrammarPlan:
        """The request's constraint as the core sends it: the (cacheable) plan, plus the rules
        that depend on this conversation."""
        plan = self.dialect.tools_grammar(self.ctx, self.model, self.grammars)
        return request_plan(plan, self.ctx, self.model)

    def parser(self) -> OutputParser:
        return self.dialect.create_parser(self.ctx, self.model)

    def replace(self, **changes: Any) -> DialectCase:
        """This case with some fields changed: `template`, `options`, `budget_tokens`, or
        any RequestContext field."""
        model = dataclasses.replace(self.model, **{
            k: changes.pop(k) for k in ("template", "options") if k in changes})
        grammars = self.grammars
        if "budget_tokens" in changes:
            grammars = dataclasses.replace(grammars, budget_tokens=changes.pop("budget_tokens"))
        return DialectCase(dataclasses.replace(self.ctx, **changes), model, grammars)


def _convert(schema: Any, strict: bool, limits: GrammarLimits) -> str:
    return cached_schema_to_gbnf(schema, strict=strict, limits=limits)


def make_case(dialect: Dialect, tools: list[ToolDef], /, tool_choice: str = "auto",
              template: ChatTemplate | None = None, options: dict[str, Any] | None = None,
              budget_tokens: int | None = None, **fields: Any) -> DialectCase:
    """A request as the core hands it to `dialect`, for dialect unit tests: `tool_choice` is
    auto / none / required or a tool's name; the template defaults to plain ChatML
    (`CHATML`); schemas compile through the core's converter under the default limits;
    other RequestContext fields (even `tools`, `messages`) by keyword."""
    if tool_choice in ("auto", "none", "required", "named"):  # named: forced_tool= by keyword
        fields["tool_choice"] = tool_choice
    else:
        fields["tool_choice"], fields["forced_tool"] = "named", tool_choice
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    ctx = RequestContext(tools=list(fields.pop("tools", tools)), **fields)
    model = ServedModel(template or CHATML, dialect, dict(options or {}))
    return DialectCase(ctx, model, SchemaGrammars(_convert, _LIMITS, budget_tokens))


def parse_all(case: DialectCase, pieces: list[str]) -> list[Delta]:
    """The case's parser fed `pieces` in turn, then finished: every delta."""
    parser = case.parser()
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
    template: ClassVar[ChatTemplate | None] = None  # the model's template (see shared_template)
    exceptions: ClassVar[dict[str, str]] = {}

    def context(self, golden: Golden) -> DialectCase:
        overrides = dict(golden.ctx)
        tools = overrides.pop("tools", self.tools)
        overrides.setdefault("template", self.template)
        return make_case(self.dialect, tools, **overrides)

    def _skip(self, name: str) -> None:
        if name in self.exceptions:
            pytest.skip(f"declared exception: {self.exceptions[name]}")

    def _each(self) -> list[tuple[Golden, DialectCase]]:
        assert self.goldens, "a conformance subclass needs goldens"
        return [(g, self.context(g)) for g in self.goldens]

    def test_goldens_cover_required_cases(self) -> None:
        self._skip("test_goldens_cover_required_cases")
        covered = set().union(*(g.tags for g in self.goldens))
        missing = REQUIRED_TAGS - covered - set(self.exceptions)
        assert not missing, f"goldens lack cases tagged {sorted(missing)}"

    def test_non_streaming_parse(self) -> None:
        for g, case in self._each():
            if "malformed" in g.tags:
                continue
            got = assemble(parse_all(case, [g.text]))
            assert got.content == g.content, g.name
            assert got.reasoning == g.reasoning, g.name
            assert [c.name for c in got.tool_calls] == [n for n, _ in g.calls], g.name
            for call, (_, args) in zip(got.tool_calls, g.calls, strict=True):
                assert isinstance(call.arguments, str), g.name
                assert json.loads(call.arguments) == args, g.name

    def test_stream_split_everywhere(self) -> None:
        self._skip("test_stream_split_everywhere")
        for g, case in self._each():
            whole = _norm(assemble(parse_all(case, [g.text])))
            for i in range(len(g.text) + 1):
                pieces = [g.text[:i], g.text[i:]]
                got = _norm(assemble(parse_all(case, pieces)))
                assert got == whole, f"{g.name}: split at {i} gives {got} != {whole}"

    def test_stream_char_by_char(self) -> None:
        self._skip("test_stream_char_by_char")
        for g, case in self._each():
            whole = _norm(assemble(parse_all(case, [g.text])))
            got = _norm(assemble(parse_all(case, list(g.text))))
            assert got == whole, g.name

    def test_call_deltas_start_with_id_and_name(self) -> None:
        for g, case in self._each():
            started: set[int] = set()
            ids: set[str] = set()
            for d in parse_all(case, list(g.text)):
                if d.kind == "tool_start":
                    assert d.id and d.name, g.name
                    assert d.id not in ids, f"{g.name}: duplicate call id"
                    ids.add(d.id)
                    started.add(d.index)
                elif d.kind == "tool_args":
                    assert d.index in started, f"{g.name}: arguments before the call's start"

    def test_malformed_output_loses_nothing(self) -> None:
        self._skip("test_malformed_output_loses_nothing")
        for g, case in self._each():
            if "malformed" not in g.tags:
                continue
            got = assemble(parse_all(case, [g.text]))
            for call in got.tool_calls:
                json.loads(call.arguments)  # never a call with broken arguments
            if not got.tool_calls:
                text = (got.reasoning or "") + (got.content or "")
                assert text.strip(), f"{g.name}: malformed output vanished"
            if g.content is not None:
                assert got.content == g.content, g.name

    def test_goldens_match_grammar(self) -> None:
        """Goldens marked grammar=True are accepted by the dialect's own grammar: the whole
        text, or for a lazy grammar the text from its first trigger word on. At least one of
        them holds a call."""
        self._skip("test_goldens_match_grammar")
        checked, rejected = 0, []
        for g, case in self._each():
            if not g.grammar:
                continue
            plan = case.plan()
            if plan.grammar is None:
                continue
            text = g.text
            if plan.lazy:
                found = [text.find(t["value"]) for t in plan.triggers if t["value"] in text]
                if not found:
                    assert not g.calls, f"{g.name}: calls without a trigger word"
                    continue
                text = text[min(found):]
            checked += bool(g.calls)
            if not accepts(plan.grammar, text):
                rejected.append(g.name)
        assert not rejected, f"the dialect's grammar rejects goldens {rejected}"
        assert checked, "no golden with a call is marked grammar=True"

    def _round_trip(self, calls: list[tuple[str, Any]]) -> None:
        base = self.context(Golden("round trip", ""))
        template = base.template
        user = {"role": "user", "content": "What is the weather in Paris?"}
        turn = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call{i}abcd", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(calls)]}
        before = base.replace(messages=[user]).prompt()
        after = base.replace(messages=[user, turn]).prompt()
        n = 0  # both end in the generation prompt: drop the tail they share
        while n < min(len(before), len(after)) and before[-1 - n] == after[-1 - n]:
            n += 1
        while n and after[-n] not in "<\n":  # back to a marker or line boundary
            n -= 1
        text = turn_text(before, after[:len(after) - n], template)
        got = assemble(parse_all(base, [text]))
        parsed = [(c.name, json.loads(c.arguments)) for c in got.tool_calls]
        assert parsed == calls, f"rendered {text!r}, parsed back {parsed}"
        assert not (got.content or "").strip(), f"rendered {text!r}: content {got.content!r}"

    def test_round_trip(self) -> None:
        """A call the dialect renders as history parses back exactly (render → parse)."""
        self._skip("test_round_trip")
        self._round_trip([("get_weather", {"city": "Paris", "unit": "c"})])

    def test_round_trip_several_calls(self) -> None:
        self._skip("test_round_trip_several_calls")
        self._round_trip([("get_weather", {"city": "Paris"}), ("get_time", {})])


def shared_templates_dir() -> Path:
    """The real chat templates of ../shared/templates (next to the repository), or
    $GATEWAY_SHARED_TEMPLATES. Tests that need them fail saying so, never skip silently."""
    import os

    import gateway

    env = os.environ.get("GATEWAY_SHARED_TEMPLATES")
    path = Path(env) if env else \
        Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"
    if not path.is_dir():
        pytest.fail(f"this test needs the real chat templates of ../shared/templates, not "
                    f"found at {path}: check out the shared folder next to the repository or "
                    f"set GATEWAY_SHARED_TEMPLATES", pytrace=False)
    return path


def shared_template(name: str) -> ChatTemplate:
    """One template of ../shared/templates by file name, compiled (fails when absent)."""
    path = shared_templates_dir() / name
    if not path.is_file():
        pytest.fail(f"chat template {name} not found in {path.parent}", pytrace=False)
    return ChatTemplate(path.read_text(), name=name)


_FRESH_ENVS: dict[str, Path] = {}  # the core's repository -> a new venv with it installed


def _fresh_core_env(root: Path) -> Path:
    """A new virtual environment with the core alone installed (and setuptools, so that a
    plugin builds in it without downloading its build backend again): made once per test
    session, removed at exit."""
    import atexit
    import shutil
    import subprocess
    import sys
    import tempfile

    key = str(root)
    if key not in _FRESH_ENVS:
        home = Path(tempfile.mkdtemp(prefix="gateway-fresh-env-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        venv = home / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "setuptools>=77", str(root)],
                       check=True, timeout=600)
        _FRESH_ENVS[key] = venv
    return _FRESH_ENVS[key]


@contextmanager
def fresh_env(plugin_dir: str, workdir: str) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """The core and ONE plugin in a virtual environment of their own: (its python, what
    `gateway plugins` lists there: discovery through the installed entry point only). The
    core's environment is made once per session; the plugin is uninstalled on leaving, so
    the next plugin is alone again."""
    import os
    import subprocess
    import tomllib

    import gateway

    root = Path(gateway.__file__).resolve().parents[2]  # the repo: pyproject.toml of the core
    venv = _fresh_core_env(root)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    name = tomllib.loads((Path(plugin_dir) / "pyproject.toml").read_text())["project"]["name"]
    subprocess.run([*pip, "install", "--no-build-isolation", str(plugin_dir)], check=True,
                   timeout=600, cwd=workdir)
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "GATEWAY_LOAD_PLUGINS")}
        out = subprocess.run([str(venv / "bin" / "gateway"), "plugins"], check=True,
                             capture_output=True, text=True, env=env, cwd=workdir, timeout=120)
        yield venv / "bin" / "python", json.loads(out.stdout)
    finally:
        subprocess.run([*pip, "uninstall", "-y", name], check=True, timeout=120)


def plugins_listed_in_fresh_env(plugin_dir: str, workdir: str) -> list[dict[str, Any]]:
    """What `gateway plugins` lists with the core and ONE plugin installed in a virtual
    environment of their own (see `fresh_env`)."""
    with fresh_env(plugin_dir, workdir) as (_, listed):
        return listed
