"""Streaming details beyond the conformance suite: no partial marker ever reaches the
client as content or reasoning, and a call appears only once its JSON is complete."""

from __future__ import annotations

from gateway.dialect import Delta
from gateway_plugin_harmony.parser import HarmonyParser

TEXT = ("<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant"
        "<|channel|>commentary<|message|>Checking.<|end|><|start|>assistant"
        ' to=functions.get_weather<|channel|>commentary json<|message|>{"city":"Paris"}<|call|>')


def stream(text: str, calls: bool = True) -> list[Delta]:
    p = HarmonyParser(calls=calls)
    out: list[Delta] = []
    for ch in text:
        out += p.feed(ch)
    return out + p.finish()


def test_no_marker_fragment_is_emitted_as_text() -> None:
    deltas = stream(TEXT)
    texts = [d.text for d in deltas if d.kind in ("content", "reasoning")]
    assert "".join(texts) == "Need the weather.Checking."
    assert not any("<" in t or "|" in t for t in texts)


def test_call_is_emitted_whole_after_its_arguments() -> None:
    p = HarmonyParser()
    args = TEXT.rsplit("<|message|>", 1)[1]
    first = p.feed(TEXT[:-len(args)]) + p.feed(args[:5])
    assert [d.kind for d in first] == ["reasoning", "content"]
    out = p.feed(args[5:]) + p.finish()
    assert [d.kind for d in out] == ["tool_start", "tool_args"]
    assert out[0].name == "get_weather" and out[0].id and out[1].text == '{"city":"Paris"}'


def test_calls_not_offered_are_content() -> None:
    text = " to=functions.f<|channel|>commentary json<|message|>{}"
    deltas = stream(text, calls=False)
    assert {d.kind for d in deltas} == {"content"}
    assert "".join(d.text for d in deltas) == text
