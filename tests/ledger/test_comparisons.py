"""Comparisons: a head-to-head of two registered tools, published, edited, retired."""

from __future__ import annotations

from ledger import errors
from ledger.application import Ledger
from ledger.domainmodel import Comparison

from .helpers import EDITOR, envelope, refused, register, single_new_event

QUESTION = "Which one should you ship with?"


def test_publish_comparison_appends_published(ledger: Ledger) -> None:
    # given two tools
    register(ledger, "alpha")
    register(ledger, "beta")
    # when an editor publishes their comparison
    receipt = ledger.publish_comparison(EDITOR, "beta", "alpha", question=QUESTION)
    # then Comparison.Published holds both slugs, in the order given, and the question
    event = single_new_event(ledger, 2, receipt)
    assert receipt.version == 1
    assert receipt.id == Comparison.id_for("alpha", "beta")
    assert envelope(event) == {
        "type": "Comparison.Published",
        "actor": "editor:e1",
        "reason": "",
        "request_id": "req-editor",
    }
    assert event.data == {"a": "beta", "b": "alpha", "question": QUESTION}


def test_a_comparison_is_order_free_and_unique(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")
    ledger.publish_comparison(EDITOR, "alpha", "beta", question=QUESTION)
    # the same pair the other way round is the same comparison
    refused(
        ledger,
        errors.ComparisonAlreadyPublished,
        ledger.publish_comparison,
        EDITOR,
        "beta",
        "alpha",
        question="Again?",
    )
    assert ledger.comparison("beta", "alpha")["question"] == QUESTION


def test_a_comparison_needs_two_distinct_registered_tools(ledger: Ledger) -> None:
    register(ledger, "alpha")
    refused(
        ledger,
        errors.SameTool,
        ledger.publish_comparison,
        EDITOR,
        "alpha",
        "alpha",
        question=QUESTION,
    )
    refused(
        ledger,
        errors.ToolNotFound,
        ledger.publish_comparison,
        EDITOR,
        "alpha",
        "ghost",
        question=QUESTION,
    )


def test_a_comparison_needs_active_tools_and_a_question(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")
    refused(
        ledger,
        errors.InvalidField,
        ledger.publish_comparison,
        EDITOR,
        "alpha",
        "beta",
        question="",
    )
    ledger.retire_tool(EDITOR, "beta", reason="gone")
    refused(
        ledger,
        errors.ToolRetired,
        ledger.publish_comparison,
        EDITOR,
        "alpha",
        "beta",
        question=QUESTION,
    )


def test_edit_comparison_changes_the_question(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")
    ledger.publish_comparison(EDITOR, "alpha", "beta", question=QUESTION)
    # when the question is edited, with an optional reason
    receipt = ledger.edit_comparison(
        EDITOR, "beta", "alpha", question="Which is cheaper?", reason="focus"
    )
    # then Comparison.Edited holds the new question
    event = single_new_event(ledger, 3, receipt)
    assert (event.type, event.reason, receipt.version) == (
        "Comparison.Edited",
        "focus",
        2,
    )
    assert event.data == {"question": "Which is cheaper?"}
    # and an edit that changes nothing is refused
    refused(
        ledger,
        errors.NothingChanged,
        ledger.edit_comparison,
        EDITOR,
        "alpha",
        "beta",
        question="Which is cheaper?",
    )


def test_retire_comparison_needs_a_reason_and_ends_edits(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")
    ledger.publish_comparison(EDITOR, "alpha", "beta", question=QUESTION)
    refused(
        ledger,
        errors.ReasonRequired,
        ledger.retire_comparison,
        EDITOR,
        "alpha",
        "beta",
        reason="",
    )
    receipt = ledger.retire_comparison(EDITOR, "alpha", "beta", reason="stale")
    event = single_new_event(ledger, 3, receipt)
    assert (event.type, event.reason, event.data) == ("Comparison.Retired", "stale", {})
    assert ledger.comparison("alpha", "beta")["retired"] is True
    refused(
        ledger,
        errors.ComparisonRetired,
        ledger.edit_comparison,
        EDITOR,
        "alpha",
        "beta",
        question="New?",
    )
    refused(
        ledger,
        errors.ComparisonRetired,
        ledger.retire_comparison,
        EDITOR,
        "alpha",
        "beta",
        reason="x",
    )


def test_an_unpublished_comparison_is_not_found(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")
    refused(
        ledger,
        errors.ComparisonNotFound,
        ledger.edit_comparison,
        EDITOR,
        "alpha",
        "beta",
        question="?",
    )
