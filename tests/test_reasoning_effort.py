"""`reasoning_effort` reaches templates that read it (gpt-oss writes `Reasoning: high`)."""

from __future__ import annotations

import json

import pytest
from gateway.chat import ChatService
from gateway.chat_request import decode_request
from gateway.errors import GatewayError
from gateway.plugins import create_plugins
from gateway.runtime import ServeConfig, choose
from gateway.testing import shared_template


def _service() -> ChatService:
    plugins = create_plugins()
    template = shared_template("openai-gpt-oss-120b.jinja")  # fails, saying so, when absent
    dialect = choose(plugins, template, {}, ServeConfig()).dialect
    return ChatService(plugins=plugins, backend=None, template=template,  # type: ignore[arg-type]
                       dialect=dialect, model_id="m")


def _prompt(**kw: object) -> str:
    body = {"messages": [{"role": "user", "content": "hi"}], **kw}
    return _service().prepare(decode_request(json.dumps(body).encode())).prompt


def test_reasoning_effort_reaches_the_template():
    assert "Reasoning: high" in _prompt(reasoning_effort="high")
    assert "Reasoning: medium" in _prompt()  # the template's own default


def test_unknown_reasoning_effort_is_a_400():
    with pytest.raises(GatewayError) as err:
        _prompt(reasoning_effort="extreme")
    assert err.value.status == 400 and err.value.param == "reasoning_effort"
