"""The numbers a conversation gives (gateway.numbers_said)."""

from __future__ import annotations

import pytest
from gateway.numbers_said import (
    numbers_for,
    numbers_given,
    numbers_said,
    schema_numbers,
    worked_out,
)


def test_numbers_said_with_digits_anywhere_and_as_words() -> None:
    said = numbers_said("8 pieces, two slices, a dozen eggs on 2024-05-01 at 15:30 for $1,250.50; "
                        "the third one")
    assert {8.0, 2.0, 12.0, 2024.0, 5.0, 1.0, 15.0, 30.0, 1250.5, 3.0} <= said
    assert 7.0 not in said


def test_numbers_given_on_their_own_as_json_literals() -> None:
    assert numbers_given("Loans of 20,000 at 5% over 36 months, -3, $45.50, 5 again, "
                         "2024-05-01, 15:00, v1.2.3 and B12") == ["20000", "5", "36", "-3", "45.50"]
    assert numbers_given("no numbers here") == []


@pytest.mark.parametrize("value, said, found", [
    (5000.0, {5000.0}, True),
    (0.04, {4.0}, True),  # percent
    (120.0, {2.0}, True),  # hours in minutes
    (2500.0, {2.5}, True),  # thousands
    (-3.0, {3.0}, True),  # a sign
    (10000.0, {5000.0, 4.0, 3.0}, False),
    (1.3, {45.5, 120.0}, False),
    (1.2, {120.0}, True),  # (120 in hundredths: a percent read as a fraction)
])
def test_worked_out(value: float, said: set[float], found: bool) -> None:
    assert worked_out(value, said) is found


def test_schema_numbers() -> None:
    assert {14.0, 0.5, 3.0} <= schema_numbers({"maximum": 14, "default": 0.5,
                                               "description": "e.g. 3 items"})


LOANS = ("Compare the monthly payment of a 20000 loan at 5% over 36 months with a 15000 loan "
         "at 3.5% over 24 months.")


@pytest.mark.parametrize("key, used, wanted", [
    ("loan_amount", set(), ["20000", "15000"]),  # a word of the key beside the number
    ("loan_amount", {20000.0}, ["15000"]),  # and one no call used when any is left
    ("months", {36.0, 24.0}, ["36", "24"]),  # all used: all of them still
    ("annual_rate", set(), ["20000", "5", "36", "15000", "3.5", "24"]),  # no word: all
    ("annual_rate", {5.0, 36.0}, ["20000", "15000", "3.5", "24"]),
])
def test_numbers_for_an_argument(key: str, used: set[float], wanted: list[str]) -> None:
    assert numbers_for(LOANS, key, used) == wanted
