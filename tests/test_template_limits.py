"""A chat template comes from a model file, i.e. from a stranger: rendering is bounded in
time and size, runs off the event loop, and a hostile template is a clear 400, never a
frozen server (issue: reliability finding 4)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from gateway.config import Settings
from gateway.runtime import Runtime, ServeConfig
from gateway.templating import ChatTemplate, RenderLimits, TemplateError, TemplateLimitError

from tests.inprocess import call, chat
from tests.stub_llama import CHATML, StubLlama

HOSTILE = {
    "huge range": "{% for i in range(10**9) %}{% endfor %}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                    "{% endfor %}",
    "loop over a string": "{% set s = 'ab' * 100000 %}{% for c in s %}{% for d in s %}"
                          "{% endfor %}{% endfor %}",
    "loop that swallows errors": "{% for i in range(100000) %}{% for j in range(100000) %}"
                                 "{{ 'x'|int }}{% endfor %}{% endfor %}",
    "string repetition": "{{ 'x' * 10**10 }}",
    "doubling": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling with +": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                       "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "padding": "{{ 'x'|center(10**10) }}",
    "format width": "{{ '%0999999999d' % 1 }}",
    "huge output": "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}",
    "huge power": "{{ 7 ** 100000000 }}",
}
USER = [{"role": "user", "content": "hi"}]


def bounded(fn: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Run fn in a thread; a failure (not a hung test run) if it does not finish."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "froze: still running after the timeout"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_template_is_refused_within_its_limits(source: str) -> None:
    def render() -> None:
        template = ChatTemplate(source + "{{ messages[0].content }}",
                                limits=RenderLimits(seconds=0.5))
        assert template.hostile is not None  # seen while probing, at start-up
        template.settle()
        template.render(USER)

    with pytest.raises(TemplateLimitError):
        bounded(render)


def test_after_start_up_a_slow_render_fails_only_that_request() -> None:
    # loops as often as the conversation has characters squared: cheap for the probes, too
    # slow for a big conversation; a client must not be able to break it for everyone
    source = ("{% for m in messages %}{% for a in m.content %}{% for b in m.content %}"
              "{% endfor %}{% endfor %}{{ m.content[:10] }}{% endfor %}")
    template = ChatTemplate(source, limits=RenderLimits(seconds=0.5))
    template.settle()
    assert template.hostile is None
    with pytest.raises(TemplateLimitError, match="took over 0.5 s"):
        bounded(lambda: template.render([{"role": "user", "content": "x" * 20000}]))
    assert template.render(USER) == "hi"


def test_sandbox_still_has_a_working_capped_range_and_real_templates_render() -> None:
    template = ChatTemplate("{% for i in range(3) %}{{ i }}{% endfor %}"
                            "{{ range(5)|list|length }}{{ (range(2)|reverse|list)[0] }}"
                            "{{ messages|length }}")
    assert template.render(USER) == "012511"
    with pytest.raises(TemplateError):  # the template's own bug is still a TemplateError
        ChatTemplate("{{ messages[0].content.nope() }}").render(USER)


def test_output_size_bound() -> None:
    template = ChatTemplate("{{ messages[0].content }}", limits=RenderLimits(max_chars=1000))
    assert template.render([{"role": "user", "content": "x" * 900}]) == "x" * 900
    with pytest.raises(TemplateLimitError, match="over the limit of 1000"):
        template.render([{"role": "user", "content": "x" * 2000}])


def test_hostile_template_at_start_up_keeps_health_answering_and_requests_get_400() -> None:
    # seen before: 5.5 minutes of start-up with /health not answering at all
    async def scenario() -> tuple[list[int], Any, Any]:
        stub = await StubLlama(chat_template=HOSTILE["nested loops"] + CHATML).start()
        runtime = Runtime(ServeConfig(endpoints=[stub.url],
                                      settings=Settings(template_timeout=0.5)))
        from gateway.app import create_app

        app = create_app(runtime, manage_backend=False)
        try:
            start = asyncio.create_task(runtime.start())
            health = []
            while not start.done():
                reply = await asyncio.wait_for(call(app, "/health", method="GET"), 5)
                health.append(reply.status)
                await asyncio.sleep(0.05)
            await start
            plain = await call(app, "/v1/chat/completions", chat())
            streamed = await call(app, "/v1/chat/completions", chat(stream=True))
            return health, plain, streamed
        finally:
            await runtime.stop()
            await stub.stop()

    health, plain, streamed = bounded(lambda: asyncio.run(scenario()), timeout=120)
    assert 503 in health  # answered while the template was being probed
    for reply in (plain, streamed):
        assert reply.status == 400, reply.body
        err = reply.json()["error"]
        assert err["code"] == "template_limit" and err["param"] == "messages"
        assert "took over 0.5 s" in err["message"] and "--chat-template-file" in err["message"]


def test_timeouts_racing_the_end_of_renders_never_escape() -> None:
    # deadlines about as long as the render: the watchdog fires around its last lines; a
    # render either finishes or fails with TemplateLimitError, and nothing fires later into
    # the thread's other work
    template = ChatTemplate("{% for i in range(3000) %}{{ i }}{% endfor %}")
    template.settle()
    # deadlines from a tenth of this machine's render time to about thirteen times it (four
    # threads share the GIL), so both outcomes occur however fast the machine is
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        template.render(USER)
        timings.append(time.perf_counter() - started)
    render_time = sorted(timings)[2]
    outcomes: list[str] = []

    def worker(k: int) -> None:
        for j in range(64):
            template.limits = RenderLimits(seconds=render_time * 0.1 * 2 ** ((j + k) % 8))
            try:
                template.render(USER)
                outcomes.append("ok")
            except TemplateLimitError:
                outcomes.append("limit")
        busy_until = time.monotonic() + 0.8  # longer than the watchdog's re-fire interval
        while time.monotonic() < busy_until:
            sum(range(1000))
        outcomes.append("clean")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("clean") == 4  # a stray timeout would have killed a worker
    assert {"ok", "limit"} <= set(outcomes)
