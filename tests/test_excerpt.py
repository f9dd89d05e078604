"""The excerpt grammar: any run of consecutive whole words of the text, nothing else."""

from __future__ import annotations

import json

import pytest
from gateway.excerpt import excerpt_rules
from gateway.gbnf_recognizer import accepts

TEXT = 'Play "Shape of You" by Ed Sheeran for 20 minutes, then the weather in Boston\\MA'


def grammar(text: str) -> str:
    made = excerpt_rules(text)
    assert made is not None
    rules, root = made
    return "\n".join([f"root ::= {root}", *rules]) + "\n"


def inside(text: str) -> str:  # what the model writes inside the JSON string
    return json.dumps(text, ensure_ascii=False)[1:-1]


@pytest.mark.parametrize("quote", [
    "Play", "Boston\\MA", '"Shape of You"', 'Ed Sheeran for 20 minutes,', TEXT,
    "the weather in Boston\\MA",
])
def test_any_run_of_whole_words_is_accepted(quote: str) -> None:
    assert accepts(grammar(TEXT), inside(quote))


@pytest.mark.parametrize("quote", [
    "", "Pla", "Sheeran Ed", "Ed  Sheeran", "weather in Paris", "Play Shape",
    "minutes", "Boston\\\\MA", "20 minutes, then the weather in Boston\\MA now",
])
def test_anything_else_is_refused(quote: str) -> None:
    assert not accepts(grammar(TEXT), inside(quote))


def test_long_text_keeps_its_last_words() -> None:
    words = [f"w{i}" for i in range(1000)]
    made = excerpt_rules(" ".join(words), max_words=300)
    assert made is not None
    g = "\n".join(["root ::= quote", *made[0]])
    assert accepts(g, "w999") and accepts(g, "w700 w701")
    assert not accepts(g, "w699")


def test_no_words_no_grammar() -> None:
    assert excerpt_rules("  \n ") is None
