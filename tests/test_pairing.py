"""A further call's values put in step with the request's next group (gateway.pairing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway.pairing import call_spans, in_step, in_step_all, put_in_step, realign, same_slot


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


TRIANGLES = ("Find the area of a triangle with base 10 and height 5, and of another with "
             "base 15 and height 7.")


@pytest.mark.parametrize("request_, earlier, further, wanted", [
    # a copied number moves on with the others, to the number in the same slot
    (TRIANGLES, call("area", base=10, height=5), call("area", base=15, height=5),
     {"height": 7.0}),
    ("Book the Hilton in Boston for 3 nights and the Hyatt in Miami for 2 nights.",
     call("book", hotel="Hilton", city="Boston", nights=3),
     call("book", hotel="Hyatt", city="Miami", nights=3), {"nights": 2.0}),
    ("Interest on 5000 at 4 percent for 3 years, and on 8000 at 6 percent for 5 years?",
     call("interest", principal=5000, rate=4, years=3),
     call("interest", principal=8000, rate=4, years=3), {"rate": 6.0, "years": 5.0}),
    # a number the two groups share stays: no unused number in its slot
    ("Principal 1000 at rates 5% and 7% over 10 years.",
     call("interest", principal=1000, rate=5, years=10),
     call("interest", principal=1000, rate=7, years=10), {}),
    # a number in another slot is not taken ("2 adults" is no budget)
    ("2 adults in Paris and Rome, budget 300",
     call("stay", adults=2, city="Paris"), call("stay", adults=2, city="Rome"), {}),
    # nothing moved on: not a call for the next group (the novelty check's matter)
    (TRIANGLES, call("area", base=10, height=5), call("area", base=10, height=5), {}),
    # another tool: no group to keep in step with
    (TRIANGLES, call("perimeter", base=10, height=5), call("area", base=15, height=5), {}),
    # strings: the value standing to the moved one as the copied one stood to its own
    ("Search flights from Paris to Rome on 2024-05-01 and from Madrid to Lisbon on 2024-05-03.",
     call("flights", origin="Paris", destination="Rome", date="2024-05-01"),
     call("flights", origin="Madrid", destination="Rome", date="2024-05-03"),
     {"destination": "Lisbon"}),
    ("Convert 100 USD to EUR and 250 GBP to JPY.",
     call("convert", amount=100, source="USD", target="EUR"),
     call("convert", amount=250, source="GBP", target="EUR"), {"target": "JPY"}),
    ("The sales tax on $45.50 in Austin, TX and on $120 in Seattle, WA?",
     call("tax", amount=45.5, city="Austin", state="TX"),
     call("tax", amount=120, city="Seattle", state="TX"), {"state": "WA"}),
    ("Email alice@example.com the subject 'Meeting moved' and bob@example.com the subject "
     "'Lunch at noon'.", call("mail", to="alice@example.com", subject="Meeting moved"),
     call("mail", to="bob@example.com", subject="Meeting moved"), {"subject": "Lunch at noon"}),
    # a value put in step anchors the next: Miami (by "for 2"), then Hyatt (by "in Miami")
    ("Book the Hilton in Boston for 3 nights and the Hyatt in Miami for 2 nights.",
     call("book", hotel="Hilton", city="Boston", nights=3),
     call("book", hotel="Hilton", city="Boston", nights=2), {"city": "Miami", "hotel": "Hyatt"}),
    # a value both groups share stays, worded alike or not
    ("What was the population of Japan in 2010 and in 2020?",
     call("population", country="Japan", year=2010),
     call("population", country="Japan", year=2020), {}),
    ("The last scores of the Lakers and the Celtics in the NBA?",
     call("score", team="Lakers", league="NBA"), call("score", team="Celtics", league="NBA"), {}),
    # a number the request repeats is used up only when every time it is said is taken
    ("A room for 2 adults and 1 child in New York, then one for 1 adult and 2 children in LA",
     call("room", adults=2, children=1, city="New York"),
     call("room", adults=1, children=1, city="LA"), {"children": 2.0}),
])
def test_in_step(request_: str, earlier: dict[str, Any], further: dict[str, Any],
                 wanted: dict[str, float]) -> None:
    assert in_step(further, [earlier], request_) == wanted


def test_third_group_takes_the_nearest_unused_number() -> None:
    request = ("Volumes of cylinders with radius 3 and height 8, radius 4 and height 10, "
               "radius 6 and height 2.")
    earlier = [call("volume", radius=3, height=8), call("volume", radius=4, height=10)]
    assert in_step(call("volume", radius=6, height=10), earlier, request) == {"height": 2.0}
    assert in_step(call("volume", radius=4, height=8), earlier[:1], request) == {"height": 10.0}


def test_put_in_step_rewrites_the_text_and_keeps_only_valid_calls() -> None:
    earlier = [call("area", base=10, height=5)]
    text = ',{"name":"area","arguments":{"base":15,"height":5}}'
    out = put_in_step(text, earlier, TRIANGLES, lambda c: True)
    assert out == ',{"name":"area","arguments":{"base":15,"height":7}}'
    assert json.loads(out[1:])["arguments"] == {"base": 15, "height": 7}
    assert put_in_step(text, earlier, TRIANGLES, lambda c: False) == text
    # a decimal where the schema wants an integer is refused by the validator
    request = "Loans of 20000 at 5% over 36 months and 15000 at 3.5% over 24 months"
    text = ',{"name":"loan","arguments":{"amount":15000,"rate":5,"months":36}}'
    out = put_in_step(text, [call("loan", amount=20000, rate=5, months=36)], request,
                      lambda c: all(isinstance(v, int) for v in c["arguments"].values()))
    assert json.loads(out[1:])["arguments"] == {"amount": 15000, "rate": 5, "months": 24}
    assert put_in_step("not json", earlier, TRIANGLES, lambda c: True) == "not json"


TAXES = "The sales tax for $30.45 in Chicago, IL, $52.33 in Sacramento, CA and $11.23 in Portland?"


@pytest.mark.parametrize("one, other, request_, same", [
    ("Chicago", "Sacramento", TAXES, True),  # "in _ ,"
    ("30.45", "52.33", TAXES, True),  # "$ _ in"
    ("11.23", "30.45", TAXES, True),
    ("IL", "CA", TAXES, False),  # ", _ ," and ", _ and"
    ("Bangkok", "Thailand", "The weather in Bangkok, Thailand?", False),  # a qualifier
    ("1000", "10", "Invest $1000 at 10% for 5 years", False),  # two slots
    ("Oslo", "Oslo", "In Oslo and in Oslo", False),  # not another value
    ("Stranger Things", "Friends", "Shows 'Stranger Things' and 'Friends' on Netflix", True),
])
def test_same_slot(one: str, other: str, request_: str, same: bool) -> None:
    assert same_slot(one, other, request_) is same


# -- all the calls to one tool put in step with each other (realign) ----------------------

GRADES = "Get Maria's average in chemistry and Tom's average in history."
SHOWS = "How much are 3 tickets for Hamilton and 2 tickets for Wicked?"
FLIGHTS = "Search flights from Paris to Rome on 2024-05-01 and from Madrid to Lisbon on 2024-05-03."
TAXES_STATES = ("Sales tax on $30.45 in Chicago, Illinois, $52.33 in Sacramento, California "
                "and $11.23 in Portland, Oregon.")
MAILS = ("Email alice@example.com with the subject 'Meeting moved' and bob@example.com with "
         "the subject 'Lunch at noon'.")


@pytest.mark.parametrize("request_, calls, wanted", [
    # the first call is out of step: the later call shows how a subject stands to a name
    (GRADES, [call("avg", student="Maria", subject="history"),
              call("avg", student="Tom", subject="history")], {0: {"subject": "chemistry"}}),
    (FLIGHTS, [call("fly", origin="Paris", destination="Lisbon", date="2024-05-01"),
               call("fly", origin="Madrid", destination="Lisbon", date="2024-05-03")],
     {0: {"destination": "Rome"}}),
    # the first call took the next group's origin as its destination
    (FLIGHTS, [call("fly", origin="Paris", destination="Madrid", date="2024-05-01"),
               call("fly", origin="Madrid", destination="Lisbon", date="2024-05-03")],
     {0: {"destination": "Rome"}}),
    # a number the request does not say (the model's own 1) takes the one in the relation
    ("Save the game at stage 7 in easy mode and stage 3 in hard mode.",
     [call("save", stage=1, mode="easy"), call("save", stage=3, mode="hard")],
     {0: {"stage": 7.0}}),
    # a later call copied a string the request gives once per group
    (MAILS, [call("mail", to="alice@example.com", subject="Meeting moved"),
             call("mail", to="bob@example.com", subject="Meeting moved")],
     {1: {"subject": "Lunch at noon"}}),
    # the right values, swapped between the calls: no call has them right
    (SHOWS, [call("price", show="Hamilton", quantity=2), call("price", show="Wicked", quantity=3)],
     {0: {"quantity": 3.0}, 1: {"quantity": 2.0}}),
    (TRIANGLES, [call("area", base=10, height=7), call("area", base=15, height=5)],
     {0: {"height": 5.0}, 1: {"height": 7.0}}),
    # the pivot whose ways keep most of the calls' values: the city (each state follows it
    # after ", "), not the amount (no way from an amount reaches a state)
    (TAXES_STATES, [call("tax", amount=11.23, city="Portland", state="California"),
                    call("tax", amount=52.33, city="Sacramento", state="California"),
                    call("tax", amount=30.45, city="Chicago", state="Illinois")],
     {0: {"state": "Oregon"}}),
    # in step already, or nothing to go by: nothing changes
    (SHOWS, [call("price", show="Hamilton", quantity=3), call("price", show="Wicked", quantity=2)],
     {}),
    (TRIANGLES, [call("area", base=10, height=5), call("area", base=15, height=7)], {}),
    ("What's the population of Japan in 2010 and in 2020?",
     [call("pop", country="Japan", year=2010), call("pop", country="Japan", year=2020)], {}),
    # distinct values of their own are not replaced by another reading of the request
    ("Dune playing in Chicago, and Barbie in Denver",
     [call("show", movie="Dune", city="Chicago"), call("show", movie="Barbie", city="Denver")],
     {}),
    # one call to a tool: nothing to put it in step with
    (GRADES, [call("avg", student="Maria", subject="history"),
              call("other", student="Tom", subject="history")], {}),
])
def test_in_step_all(request_: str, calls: list[dict[str, Any]], wanted: dict[int, Any]
                     ) -> None:
    assert in_step_all(calls, request_) == wanted


def test_realign_rewrites_earlier_calls_in_the_text_and_keeps_only_valid_calls() -> None:
    text = ('{"tool_calls":[{"name":"avg","arguments":{"student":"Maria","subject":"history"}},'
            '{"name":"avg","arguments":{"student":"Tom","subject":"history"}}')
    out = realign(text, GRADES, lambda c: True)
    assert [c["arguments"] for _, _, c in call_spans(out)] == [
        {"student": "Maria", "subject": "chemistry"}, {"student": "Tom", "subject": "history"}]
    assert out.startswith('{"tool_calls":[{"name":"avg"')
    assert realign(text, GRADES, lambda c: c["arguments"]["subject"] != "chemistry") == text
    # both calls of a swap, rewritten from the last so the offsets hold
    text = ('{"tool_calls":[{"name":"price","arguments":{"show":"Hamilton","quantity":2}},'
            '{"name":"price","arguments":{"show":"Wicked","quantity":3}}]}')
    out = realign(text, SHOWS, lambda c: True)
    assert json.loads(out)["tool_calls"] == [
        call("price", show="Hamilton", quantity=3), call("price", show="Wicked", quantity=2)]
    assert realign("not json", SHOWS, lambda c: True) == "not json"


def test_realign_keeps_the_calls_on_odd_input_and_bounds_its_work() -> None:
    """What realign cannot relate leaves the calls as written, fast, and never raises: a
    request that says its values hundreds of times, a number past a float's range, a value
    whose lower case is longer than itself (Turkish dotted I)."""
    def two(k0: Any, k1: Any, l0: Any, l1: Any) -> str:
        return ('{"tool_calls":[' + ",".join(
            json.dumps({"name": "t", "arguments": {"k0": a, "k1": b}})
            for a, b in ((k0, k1), (l0, l1))) + "]}")

    def always(_: dict) -> bool:
        return True

    said_often = "v0 of a0 and v1 of a1. " * 150
    text = two("v0", "a0", "v1", "a0")
    assert realign(text, "v0 of a0 and v1 of a1.", always) != text  # relates when it can
    assert realign(text, said_often, always) == text
    huge = "Save stage " + "9" * 400 + " in easy mode and stage 3 in hard mode."
    text = two(1, "easy", 3, "hard")
    assert realign(text, huge, always) == text
    text = two("Paris", "Monday", "Paris", "Tuesday")
    realign(text, "Weather in İzmir on Monday and in Paris on Tuesday", always)


def test_realign_rewrites_the_argument_itself_not_a_nested_key_of_the_same_name() -> None:
    call = {"name": "avg", "arguments": {"meta": {"subject": "x"}, "student": "Maria",
                                         "subject": "history"}}
    other = {"name": "avg", "arguments": {"meta": {"subject": "x"}, "student": "Tom",
                                          "subject": "history"}}
    text = '{"tool_calls":[' + json.dumps(call) + "," + json.dumps(other) + "]}"
    out = json.loads(realign(text, "Maria's average in chemistry and Tom's average in "
                             "history", lambda _: True))
    first = out["tool_calls"][0]["arguments"]
    assert first["subject"] == "chemistry" and first["meta"] == {"subject": "x"}
