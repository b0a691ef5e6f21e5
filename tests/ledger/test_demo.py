"""The demo ledger: the seed comparison, appended through the commands, once."""

from __future__ import annotations

from collections import Counter

from ledger import demo
from ledger.application import Ledger

from .helpers import ReadLog


def test_loading_the_demo_twice_appends_once(ledger: Ledger, events: ReadLog) -> None:
    # when the demo is loaded into an empty ledger, then again
    first = demo.load(ledger)
    second = demo.load(ledger)
    # then 15 events were appended the first time and none the second
    assert (first, second) == (15, 0)
    assert ledger.head_position() == 15
    assert Counter(e.type for e in events()) == {
        "Tool.Registered": 2,
        "Reviewer.Enrolled": 4,
        "Review.Submitted": 8,
        "Comparison.Published": 1,
    }


def test_the_demo_holds_the_seed_comparison(ledger: Ledger, events: ReadLog) -> None:
    demo.load(ledger)
    # two developer tools, free to start
    for slug, name, vendor in [
        ("code-llama-4", "Code Llama 4 (70B & 400B)", "Meta"),
        ("mistral-medium-3", "Mistral Medium 3 (72B Instruct)", "Mistral AI"),
    ]:
        tool = ledger.tool(slug)
        assert (tool["name"], tool["vendor"]) == (name, vendor)
        assert (tool["category"], tool["entry"]) == ("Developer Tools", "Free")
        assert tool["retired"] is False
    # four reviewers, one per lens
    lenses = {
        e.data["handle"]: e.data["lens"]
        for e in events()
        if e.type == "Reviewer.Enrolled"
    }
    assert sorted(lenses.values()) == ["builder", "buyer", "futurist", "skeptic"]
    # eight verdicts, all ship but the buyer's on Mistral Medium 3
    verdicts = {
        (e.data["tool"], lenses[e.data["reviewer"]]): e.data["verdict"]
        for e in events()
        if e.type == "Review.Submitted"
    }
    assert len(verdicts) == 8
    assert {key for key, verdict in verdicts.items() if verdict == "skip"} == {
        ("mistral-medium-3", "buyer")
    }
    for handle in lenses:
        for slug in ("code-llama-4", "mistral-medium-3"):
            assert len(ledger.review(slug, handle)["rationale"]) > 80
    # and the comparison is published with its question
    comparison = ledger.comparison("code-llama-4", "mistral-medium-3")
    assert comparison["question"] == "Which one should you ship with?"
    assert comparison["retired"] is False
    # all by the system or by the reviewers themselves
    assert {e.actor for e in events()} == {"system"} | {
        f"reviewer:{handle}" for handle in lenses
    }
