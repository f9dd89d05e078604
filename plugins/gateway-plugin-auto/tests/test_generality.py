"""Templates written for these tests, in syntaxes no shipped template uses: derivation needs
no new code for them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from auto_helpers import context, written
from gateway.detection import PLANTED_TOOLS, round_trip
from gateway.dialect import assemble
from gateway.templating import ChatTemplate
from gateway.testing import accepts, parse_all, parse_gbnf
from gateway_plugin_auto import DIALECT, explain
from gateway_plugin_auto.markup import INDEX
from test_grammar import model_text

_TURNS = """
{%- if tools %}<|sys|>Tools: {{ tools | tojson }}<|end|>
{% endif %}
{%- for m in messages %}
{%- if m.role == 'assistant' %}<|bot|>{{ body(m) }}<|end|>
{% else %}<|{{ m.role }}|>{{ m.content }}<|end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|bot|>{% endif %}"""

# a call as an XML-ish element with the name in an attribute and JSON inside
JSON_ELEMENT = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- for c in m.tool_calls or [] %}<call name="{{ c.function.name }}">
{{- c.function.arguments | tojson }}</call>{% endfor %}
{%- endmacro %}""" + _TURNS

# tagged parameters under other names, a section, reasoning in <reflect>
TAGGED = """{%- macro body(m) -%}
{%- if m.reasoning_content %}<reflect>{{ m.reasoning_content }}</reflect>
{% endif %}{{ m.content or '' }}
{%- if m.tool_calls %}<calls>{% for c in m.tool_calls %}
<invoke:{{ c.function.name }}>{% for k, v in c.function.arguments | items %}<arg name="{{ k }}">
{{- v if v is string else v | tojson }}</arg>{% endfor %}</invoke>{% endfor %}
</calls>{% endif %}
{%- endmacro %}""" + _TURNS

# a running number before the name, 1-based
COUNTED = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- if m.tool_calls %}<<calls>>{% for c in m.tool_calls %}
<<call {{ loop.index }}: {{ c.function.name }}>>{{ c.function.arguments | tojson }}<</call>>
{%- endfor %}<</calls>>{% endif %}
{%- endmacro %}""" + _TURNS

# a section opened by two markers: the lazy grammar triggers on the last one
NESTED = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- if m.tool_calls %}<calls><batch>{% for c in m.tool_calls %}
{"fn": "{{ c.function.name }}", "args": {{ c.function.arguments | tojson }}}
{%- if not loop.last %};{% endif %}{% endfor %}</batch></calls>{% endif %}
{%- endmacro %}""" + _TURNS

# one tag per parameter, every value JSON (strings quoted)
JSON_VALUES = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- for c in m.tool_calls or [] %}<fn:{{ c.function.name }}>
{%- for k, v in c.function.arguments | items %}<param key="{{ k }}">{{ v | tojson }}</param>
{%- endfor %}</fn>{% endfor %}
{%- endmacro %}""" + _TURNS

# the section's close begins with the separator between calls (OLMo 3: `\n` between calls,
# `\n</function_calls>` after the last)
SEP_CLOSE = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- if m.tool_calls %}<fcalls>{% for c in m.tool_calls %}
{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}
</fcalls>{% endif %}
{%- endmacro %}""" + _TURNS

# the calls in a fenced block closed before the turn's text (MiniCPM 3)
CLOSED_BEFORE_TEXT = """{%- macro body(m) -%}
{%- if m.tool_calls %}<|cs|>
```
{% for c in m.tool_calls %}{{ c.function.name }}:{{ c.function.arguments | tojson }}
{% endfor %}```
<|ce|>
{% endif %}{{ m.content or '' }}
{%- endmacro %}""" + _TURNS

# every value written as text in quotes, numbers and booleans too (Llama 4's vLLM pythonic
# template: `k="42"`, `k="True"`)
QUOTES_ALL = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- if m.tool_calls %}[{% for c in m.tool_calls %}{{ c.function.name }}(
{%- for k, v in c.function.arguments | items %}{{ k }}="{{ '%s' | format(v) }}"
{%- if not loop.last %}, {% endif %}{% endfor %}){% if not loop.last %}, {% endif %}
{%- endfor %}]{% endif %}
{%- endmacro %}""" + _TURNS

CASES = {
    "every value quoted": (QUOTES_ALL, "[", None),
    "close begins with separator": (SEP_CLOSE, "<fcalls>", None),
    "closed before text": (CLOSED_BEFORE_TEXT, "<|cs|>", None),
    "json values": (JSON_VALUES, "<fn:", None),
    "nested section": (NESTED, "<batch>", None),
    "json element": (JSON_ELEMENT, '<call name="', None),
    "tagged": (TAGGED, "<calls>", ("<reflect>", "</reflect>")),
    "counted": (COUNTED, "<<calls>>", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_made_up_syntax(case: str) -> None:
    source, trigger, think = CASES[case]
    template = ChatTemplate(source, name=case)
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.trigger == trigger and spec.think == think
    assert explain(template).startswith("derived: calls as ")
    evidence = round_trip(DIALECT, template)
    assert evidence.ok and evidence.parallel, evidence.reason
    calls = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"zone": "UTC"})]
    text = written(template, calls, "Checking.")
    out = assemble(parse_all(context(template, list(PLANTED_TOOLS)), list(text)))
    assert out.content == "Checking."
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls
    plan = context(template, list(PLANTED_TOOLS), "required").plan()
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), model_text(spec, calls))


def test_what_each_made_up_syntax_is() -> None:
    tagged = DIALECT.lookup(ChatTemplate(TAGGED, name="tagged"))
    assert not isinstance(tagged, str) and tagged.args is not None
    assert (tagged.args.open, tagged.args.key_end, tagged.args.close) == (
        '<arg name="', '">', "</arg>")
    assert tagged.section_open == "<calls>" and tagged.section_close == "</calls>"
    counted = DIALECT.lookup(ChatTemplate(COUNTED, name="counted"))
    assert not isinstance(counted, str) and INDEX in counted.call
    assert counted.index_base == 1
    element = DIALECT.lookup(ChatTemplate(JSON_ELEMENT, name="json element"))
    assert not isinstance(element, str) and element.args is None
    assert element.call[-1] == "</call>"
    values = DIALECT.lookup(ChatTemplate(JSON_VALUES, name="json values"))
    assert not isinstance(values, str) and values.args and values.args.json_strings
    nested = DIALECT.lookup(ChatTemplate(NESTED, name="nested section"))
    assert not isinstance(nested, str)
    assert (nested.section_open, nested.call_sep) == ("<calls><batch>", ";")
    ctx = context(ChatTemplate(NESTED, name="nested section"), list(PLANTED_TOOLS))
    text = 'Hm <calls> no.<calls>\n<batch>{"fn": "get_time", "args": {"zone": "UTC"}}</batch>'
    out = assemble(parse_all(ctx, list(text)))
    assert out.content == "Hm <calls> no." and len(out.tool_calls) == 1


# -- what the generation prompt adds --------------------------------------------------------

def _turns(generation_prompt: str) -> str:
    return _TURNS.replace("{%- if add_generation_prompt %}<|bot|>{% endif %}",
                          "{%- if add_generation_prompt %}<|bot|>" + generation_prompt +
                          "{% endif %}")


_JSON_CALLS = """
{%- for c in m.tool_calls or [] %}<tool_call>{"name": "{{ c.function.name }}", "arguments": {{
    c.function.arguments | tojson }}}</tool_call>{% endfor %}"""

# every assistant turn opens <think> as the generation prompt does (the opener is shared)
OPENS_EACH_TURN = ("{%- macro body(m) -%}<think>\n{{ m.reasoning_content or '' }}\n</think>\n"
                   "{{ m.content or '' }}" + _JSON_CALLS + "{%- endmacro %}" +
                   _turns("<think>\n"))
# the generation prompt closes an empty reasoning block: reasoning switched off
CLOSED_EMPTY = ("{%- macro body(m) -%}{{ m.content or '' }}" + _JSON_CALLS +
                "{%- endmacro %}" + _turns("<|channel>thought\n<channel|>"))
# the generation prompt opens <think> (history shows an empty block before a plain answer,
# none before calls) and calls open <TOOLCALL>: both begin with `<`, which is not part of
# the boundary
OPENS_WITH_SAME_CHAR = ("{%- macro body(m) -%}{% if not m.tool_calls %}<think></think>{% endif %}"
                        "{{ m.content or '' }}{% if m.tool_calls %}"
                        "<TOOLCALL>{{ m.tool_calls | map(attribute='function') | list | tojson }}"
                        "</TOOLCALL>{% endif %}{%- endmacro %}" + _turns("<think>\n") +
                        "{#- a think block ends with </think> #}")


# the generation prompt opens the reasoning in words; a line of its own closes it
OPENS_IN_WORDS = ("{%- macro body(m) -%}{% if m.reasoning_content %}{{ m.reasoning_content }}\n"
                  "[BEGIN FINAL RESPONSE]\n{% endif %}{{ m.content or '' }}" + _JSON_CALLS +
                  "{%- endmacro %}" + _turns("\nHere are my reasoning steps:\n"))


@pytest.mark.parametrize("source,think,forced", [
    (OPENS_EACH_TURN, ("<think>", "</think>"), True),
    (OPENS_IN_WORDS, ("Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]"), True),
    (CLOSED_EMPTY, None, False),
    (OPENS_WITH_SAME_CHAR, ("<think>", "</think>"), True),
], ids=["opens each turn", "opens in words", "closed empty block", "opens with the same char"])
def test_what_the_generation_prompt_adds(source: str, think: Any, forced: bool) -> None:
    """A generation prompt that opens reasoning, or closes an empty block, derives: the model
    reasons (when opened) and then writes the template's own calls."""
    template = ChatTemplate(source, name="prompt shape")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.think == think and spec.think_forced == forced
    evidence = round_trip(DIALECT, template)
    assert evidence.ok, evidence.reason
    calls = [("get_weather", {"city": "Paris", "days": 3})]
    plan = context(template, list(PLANTED_TOOLS), "required").plan()
    text = model_text(spec, calls)
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), text), text
    out = assemble(parse_all(context(template, list(PLANTED_TOOLS)), list(text)))
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls


# the conversation's last assistant turn is written in a training form (its calls as a turn
# of their own); every earlier one, as the model's answers become, content then calls
LAST_TURN_APART = """{%- macro calls(m) -%}<calls>{{ m.tool_calls | map(attribute='function')
    | list | tojson }}</calls>{%- endmacro %}
{%- set last = messages[-1] if messages[-1].role == 'assistant' else none %}
{%- if tools %}<|sys|>Tools: {{ tools | tojson }}<|end|>
{% endif %}
{%- for m in (messages[:-1] if last else messages) %}
{%- if m.role == 'assistant' %}<|bot|>{{ m.content or '' }}
{%- if m.tool_calls %}{{ calls(m) }}{% endif %}<|end|>
{% else %}<|{{ m.role }}|>{{ m.content }}<|end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|bot|>
{%- elif last %}{% if last.content %}<|bot|>{{ last.content }}<|end|>
{% endif %}{% if last.tool_calls %}<|bot|>{{ calls(last) }}<|end|>
{% endif %}{% endif %}"""


def test_a_last_turn_written_apart_is_read_from_the_turns_before_it() -> None:
    template = ChatTemplate(LAST_TURN_APART, name="last turn apart")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.trigger == "<calls>" and spec.content == "before"
    calls = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"zone": "UTC"})]
    text = model_text(spec, calls)
    plan = context(template, list(PLANTED_TOOLS), "required").plan()
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), text), text
    out = assemble(parse_all(context(template, list(PLANTED_TOOLS)), list("Sure." + text)))
    assert out.content == "Sure."
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls


# the model reasons in <think> by default; the history's answers have the block taken off
STRIPS_REASONING = ("{%- macro body(m) -%}{{ (m.content or '').split('</think>')[-1] }}" +
                    _JSON_CALLS + "{%- endmacro %}" + _TURNS)


def test_a_reasoning_block_the_history_strips_is_still_read() -> None:
    """A template that takes `</think>` blocks off its history (a reasoning model's) gets an
    optional reasoning block before the calls: the reasoning is not left in the content."""
    template = ChatTemplate(STRIPS_REASONING, name="strips reasoning")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.think == ("<think>", "</think>") and not spec.think_forced
    calls = [("get_weather", {"city": "Paris", "days": 3})]
    text = "<think>The user wants Paris.</think>" + model_text(spec, calls)
    plan = context(template, list(PLANTED_TOOLS), "required").plan()
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), text), text
    out = assemble(parse_all(context(template, list(PLANTED_TOOLS)), list(text)))
    assert out.reasoning == "The user wants Paris." and not out.content
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls


# a turn is its text or its calls, never both (Phi-4-mini's vLLM template)
CALLS_OR_TEXT = """{%- macro body(m) -%}
{%- if m.content %}{{ m.content }}{% elif m.tool_calls %}{% for c in m.tool_calls -%}
<<{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}>>
{%- endfor %}{% endif %}
{%- endmacro %}""" + _TURNS


def _text_or_calls(source: str, name: str) -> Any:
    """The spec derived for a template whose turns are text or calls, never both, checked
    to read its own calls back and to have its grammar accept them."""
    template = ChatTemplate(source, name=name)
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.content == "dropped"
    calls = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"zone": "UTC"})]
    out = assemble(parse_all(context(template, list(PLANTED_TOOLS)),
                             list(written(template, calls))))
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls
    plan = context(template, list(PLANTED_TOOLS), "required").plan()
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), model_text(spec, calls))
    return spec


def test_a_turn_of_text_or_calls_is_derived() -> None:
    assert _text_or_calls(CALLS_OR_TEXT, "calls or text").trigger.startswith("<<")


# calls as a turn of their own after the text's end of turn (HyperCLOVA X's vLLM template):
# text and calls never come in one generation
CALLS_OWN_TURN = """{%- for m in messages %}
{%- if m.role == 'assistant' %}<|im_start|>assistant
{%- if m.content %}
{{ m.content }}<|im_end|>
{% endif %}{% if m.tool_calls %}{% if m.content %}<|im_start|>assistant{% endif %} -> calls
{{ m.tool_calls | map(attribute='function') | list | tojson }}<|im_end|>
{% endif %}{% else %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant{% endif %}"""


def test_calls_as_a_turn_of_their_own_after_the_text() -> None:
    assert "-> calls" in _text_or_calls(CALLS_OWN_TURN, "calls own turn").trigger


# the template ends a turn with an end-of-sequence token it names itself (Hy3 sets
# `eos_token = '<｜hy_eos｜>'` inside its template): never part of the call syntax
OWN_EOS = """{%- set eos_token = '<|my_eos|>' %}
{%- for m in messages %}
{%- if m.role == 'assistant' %}<|bot|>{{ m.content or '' }}
{%- if m.tool_calls %}<calls>{% for c in m.tool_calls %}<call>{"name": "{{ c.function.name
}}", "arguments": {{ c.function.arguments | tojson }}}</call>{% endfor %}</calls>
{{- eos_token }}{% else %}<|end|>{% endif %}
{%- else %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|bot|>{% endif %}"""


def test_an_end_of_sequence_token_the_template_names_is_not_call_syntax() -> None:
    template = ChatTemplate(OWN_EOS, name="own eos")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    assert spec.section_close == "</calls>"
    evidence = round_trip(DIALECT, template)
    assert evidence.ok and evidence.parallel, evidence.reason


def test_call_markup_rehearsed_in_an_opened_reasoning_block_is_reasoning() -> None:
    """With a required call the grammar puts the calls after the block the prompt opened: a
    small model that writes `<tool_call>` while thinking has not called yet, and the call
    after `</think>` is the answer's one call (it was lost behind the rehearsal)."""
    template = ChatTemplate(OPENS_EACH_TURN, name="opens each turn")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str) and spec.think_forced
    call = model_text(spec, [("get_weather", {"city": "Paris", "days": 3})]).split(
        spec.think[1], 1)[-1].lstrip()
    rehearsal = '<tool_call>{"name": "function_name", "arguments": {"city":'
    text = rehearsal + "\n" + spec.think[1] + "\n" + call
    for pieces in ([text], list(text)):
        out = assemble(parse_all(context(template, list(PLANTED_TOOLS), "required"), pieces))
        assert out.reasoning == rehearsal and not out.content
        assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == [
            ("get_weather", {"city": "Paris", "days": 3})]


def test_the_close_of_a_reasoning_block_calls_were_written_in_is_markup() -> None:
    """tool_choice auto: calls written inside the opened block are calls (the lazy grammar
    triggers there), and the block's close after them is markup, not the content's start."""
    template = ChatTemplate(OPENS_EACH_TURN, name="opens each turn")
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str) and spec.think_forced and spec.think
    calls = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"zone": "UTC"})]
    written_calls = model_text(spec, calls).split(spec.think[1], 1)[-1].strip()
    text = "I will call\n" + written_calls + "\n" + spec.think[1] + "\n\nDone."
    for pieces in ([text], list(text)):
        out = assemble(parse_all(context(template, list(PLANTED_TOOLS)), pieces))
        assert out.reasoning == "I will call" and out.content == "Done."
        assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == calls
