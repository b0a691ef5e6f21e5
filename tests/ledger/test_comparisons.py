"""Comparisons: a head-to-head of two registered tools, published, edited, retired."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import errors
from ledger.application import Ledger
from ledger.domainmodel import Comparison

from .helpers import EDITOR, Given, envelope, nothing, refused, single_new_event

QUESTION = "Which one should you ship with?"


def published(ledger: Ledger) -> None:
    ledger.publish_comparison(EDITOR, "alpha", "beta", question=QUESTION)


def retired(ledger: Ledger) -> None:
    published(ledger)
    ledger.retire_comparison(EDITOR, "alpha", "beta", reason="stale")


def test_publish_comparison_appends_published(two_tools: Ledger) -> None:
    # when an editor publishes the comparison of two tools
    receipt = two_tools.publish_comparison(EDITOR, "beta", "alpha", question=QUESTION)
    # then Comparison.Published holds both slugs, in the order given, and the question
    event = single_new_event(two_tools, 2, receipt)
    assert receipt.version == 1
    assert receipt.id == Comparison.id_for("alpha", "beta")
    assert envelope(event) == {
        "type": "Comparison.Published",
        "actor": "editor:e1",
        "reason": "",
        "request_id": "req-editor",
    }
    assert event.data == {"a": "beta", "b": "alpha", "question": QUESTION}
    # and the pair is the same comparison whichever way round it is named
    assert two_tools.comparison("alpha", "beta")["question"] == QUESTION


@pytest.mark.parametrize(
    ("given", "a", "b", "question", "error"),
    [
        (nothing, "alpha", "alpha", QUESTION, errors.SameTool),
        (nothing, "alpha", "ghost", QUESTION, errors.ToolNotFound),
        (nothing, "alpha", "beta", "", errors.InvalidField),
        (published, "beta", "alpha", "Again?", errors.ComparisonAlreadyPublished),
        (
            lambda ledger: ledger.retire_tool(EDITOR, "beta", reason="gone"),
            "alpha",
            "beta",
            QUESTION,
            errors.ToolRetired,
        ),
    ],
    ids=["same-tool", "unknown-tool", "no-question", "published", "retired-tool"],
)
def test_publish_comparison_refuses(
    two_tools: Ledger, given: Given, a: str, b: str, question: str, error: type
) -> None:
    given(two_tools)
    refused(
        two_tools, error, two_tools.publish_comparison, EDITOR, a, b, question=question
    )


def test_edit_comparison_changes_the_question(two_tools: Ledger) -> None:
    published(two_tools)
    # when the question is edited, naming the pair the other way round
    receipt = two_tools.edit_comparison(
        EDITOR, "beta", "alpha", question="Which is cheaper?", reason="focus"
    )
    # then Comparison.Edited holds the new question and the optional reason
    event = single_new_event(two_tools, 3, receipt)
    assert (event.type, event.reason, receipt.version) == (
        "Comparison.Edited",
        "focus",
        2,
    )
    assert event.data == {"question": "Which is cheaper?"}


def test_retire_comparison_records_why(two_tools: Ledger) -> None:
    published(two_tools)
    receipt = two_tools.retire_comparison(EDITOR, "alpha", "beta", reason="stale")
    event = single_new_event(two_tools, 3, receipt)
    assert (event.type, event.reason, event.data) == ("Comparison.Retired", "stale", {})
    assert two_tools.comparison("alpha", "beta")["retired"] is True


EDIT = ("edit_comparison", {"question": "Which is cheaper?"})
RETIRE = ("retire_comparison", {"reason": "again"})


@pytest.mark.parametrize(
    ("given", "command", "error"),
    [
        (nothing, EDIT, errors.ComparisonNotFound),
        (nothing, RETIRE, errors.ComparisonNotFound),
        (published, ("edit_comparison", {"question": QUESTION}), errors.NothingChanged),
        (published, ("retire_comparison", {"reason": ""}), errors.ReasonRequired),
        (retired, EDIT, errors.ComparisonRetired),
        (retired, RETIRE, errors.ComparisonRetired),
    ],
    ids=[
        "edit-unpublished",
        "retire-unpublished",
        "edit-nothing",
        "retire-without-reason",
        "edit-retired",
        "retire-retired",
    ],
)
def test_edit_and_retire_comparison_refuse(
    two_tools: Ledger, given: Given, command: tuple[str, dict[str, Any]], error: type
) -> None:
    given(two_tools)
    name, arguments = command
    refused(
        two_tools, error, getattr(two_tools, name), EDITOR, "alpha", "beta", **arguments
    )
