"""A grammar for "a contiguous excerpt of this text": the model quotes the part of the
user's request a call serves, right before writing the call.

Copying is what a small model does best, and the copy puts the words the arguments need
right before them. The excerpt is whole words (split on whitespace), one or more, taken
from any start: rule `{name}-w{i}` is word i, optionally followed by a space and the rule of
the next word, so the grammar has one rule per word and every rule ends in a tail call
(llama.cpp's grammar stacks do not grow along it).
"""

from __future__ import annotations

import json
from collections.abc import Callable


def words_of(text: str, max_words: int) -> list[str]:
    """The words an excerpt is made of: the last `max_words` of the text (the end of a
    request is usually the request proper)."""
    words = text.split()
    return words[-max_words:] if max_words > 0 else []


def excerpt_rules(text: str, name: str = "quote", max_words: int = 300
                  ) -> tuple[list[str], str] | None:
    """(rules, the root rule name) for one or more consecutive words of `text`, written as
    the inside of a JSON string; None when the text has no words."""
    words = words_of(text, max_words)
    if not words:
        return None
    rules: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        literal = json.dumps(json.dumps(word, ensure_ascii=False)[1:-1], ensure_ascii=False)
        tail = f' ( " " {name}-w{i + 1} )?' if i < last else ""
        rules.append(f"{name}-w{i} ::= {literal}{tail}")
    starts = " | ".join(f"{name}-w{i}" for i in range(len(words)))
    rules.append(f"{name} ::= {starts}")
    return rules, name


_ENDS = (".", "?", "!", ";", ":")  # a word ending so ends a value's excerpt
MAX_VALUE_WORD = 64  # characters of a word a value's excerpt may hold (a longer one is data)


def value_excerpt_rules(text: str, name: str, most: int, may_start: Callable[[str], bool],
                        max_words: int = 300) -> tuple[list[str], str] | None:
    """(rules, the root rule name) for a value copied from `text`: one to `most`
    consecutive words, beginning at a word `may_start` accepts and not running on past a
    word that ends a sentence or clause nor into a word over MAX_VALUE_WORD characters,
    written as the inside of a JSON string; None when no word may begin one. Rule
    `{name}-w{i}-{k}` is word i with at most k more words after it (each a tail call)."""
    words = words_of(text, max_words)
    firsts = [i for i, word in enumerate(words)
              if len(word) <= MAX_VALUE_WORD and may_start(word)]
    if not firsts or most < 1:
        return None

    def goes_on(i: int, k: int) -> bool:
        return (k > 0 and i + 1 < len(words) and not words[i].endswith(_ENDS)
                and len(words[i + 1]) <= MAX_VALUE_WORD)

    needed: set[tuple[int, int]] = set()
    todo = [(i, most - 1) for i in firsts]
    while todo:
        i, k = todo.pop()
        if (i, k) not in needed:
            needed.add((i, k))
            if goes_on(i, k):
                todo.append((i + 1, k - 1))
    rules = []
    for i, k in sorted(needed):
        literal = json.dumps(json.dumps(words[i], ensure_ascii=False)[1:-1], ensure_ascii=False)
        tail = f' ( " " {name}-w{i + 1}-{k - 1} )?' if goes_on(i, k) else ""
        rules.append(f"{name}-w{i}-{k} ::= {literal}{tail}")
    rules.append(f"{name} ::= " + " | ".join(f"{name}-w{i}-{most - 1}" for i in firsts))
    return rules, name
