"""Reviews: submitted, revised, withdrawn and resubmitted, one per reviewer and tool."""

from __future__ import annotations

import pytest

from ledger import errors, rules
from ledger.application import Ledger
from ledger.domainmodel import Review

from .helpers import (
    EDITOR,
    RATIONALE,
    envelope,
    given_tools_and_panel,
    refused,
    reviewer_ctx,
    single_new_event,
)

ADA = reviewer_ctx("ada")


@pytest.fixture
def panel(ledger: Ledger) -> Ledger:
    """Tools alpha and beta, reviewers ada (builder) and bob (skeptic)."""
    given_tools_and_panel(ledger)
    return ledger


def submit(ledger: Ledger, verdict: str = "ship", tool: str = "alpha") -> int:
    head = ledger.head_position()
    ledger.submit_review(ADA, tool, "ada", verdict=verdict, rationale=RATIONALE)
    return head


def test_submit_review_appends_submitted(panel: Ledger) -> None:
    head = panel.head_position()
    # when ada reviews alpha
    receipt = panel.submit_review(
        ADA, "alpha", "ada", verdict="skip", rationale=f"  {RATIONALE}\n"
    )
    # then Review.Submitted holds tool, reviewer, verdict and trimmed rationale
    event = single_new_event(panel, head, receipt)
    assert receipt.id == Review.id_for("alpha", "ada")
    assert receipt.version == 1
    assert envelope(event) == {
        "type": "Review.Submitted",
        "actor": "reviewer:ada",
        "reason": "",
        "request_id": "req-ada",
    }
    assert event.data == {
        "tool": "alpha",
        "reviewer": "ada",
        "verdict": "skip",
        "rationale": RATIONALE,
    }
    assert panel.review("alpha", "ada") == {
        "tool": "alpha",
        "reviewer": "ada",
        "verdict": "skip",
        "rationale": RATIONALE,
        "withdrawn": False,
        "revisions": 0,
        "version": 1,
    }


@pytest.mark.parametrize("verdict", ["yes", "Ship", "", "maybe"])
def test_verdict_is_ship_or_skip(panel: Ledger, verdict: str) -> None:
    refused(
        panel,
        errors.InvalidVerdict,
        panel.submit_review,
        ADA,
        "alpha",
        "ada",
        verdict=verdict,
        rationale=RATIONALE,
    )


@pytest.mark.parametrize("rationale", ["", "   \n", "x" * (rules.MAX_RATIONALE + 1)])
def test_rationale_is_non_empty_and_bounded(panel: Ledger, rationale: str) -> None:
    refused(
        panel,
        errors.InvalidRationale,
        panel.submit_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=rationale,
    )


def test_rationale_at_the_limit_is_accepted(panel: Ledger) -> None:
    longest = "x" * rules.MAX_RATIONALE
    panel.submit_review(ADA, "alpha", "ada", verdict="ship", rationale=longest)
    assert panel.review("alpha", "ada")["rationale"] == longest


def test_only_an_enrolled_reviewer_reviews_a_registered_tool(panel: Ledger) -> None:
    refused(
        panel,
        errors.ReviewerNotFound,
        panel.submit_review,
        ADA,
        "alpha",
        "nobody",
        verdict="ship",
        rationale=RATIONALE,
    )
    refused(
        panel,
        errors.ToolNotFound,
        panel.submit_review,
        ADA,
        "gamma",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
    )


def test_one_review_per_reviewer_per_tool(panel: Ledger) -> None:
    # given ada's review of alpha
    submit(panel)
    # when she submits another one of alpha, it is refused
    refused(
        panel,
        errors.ReviewAlreadySubmitted,
        panel.submit_review,
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale="Changed my mind.",
    )
    # but she may review beta, and bob may review alpha
    panel.submit_review(ADA, "beta", "ada", verdict="skip", rationale=RATIONALE)
    panel.submit_review(
        reviewer_ctx("bob"), "alpha", "bob", verdict="ship", rationale=RATIONALE
    )
    assert panel.review("alpha", "ada")["verdict"] == "ship"


def test_a_retired_tool_takes_no_new_review(panel: Ledger) -> None:
    panel.retire_tool(EDITOR, "alpha", reason="discontinued")
    refused(
        panel,
        errors.ToolRetired,
        panel.submit_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
    )


def test_revise_review_records_new_verdict_and_reason(panel: Ledger) -> None:
    # given ada's ship on alpha
    head = submit(panel) + 1
    # when she revises it to skip, saying why
    receipt = panel.revise_review(
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
        reason="pricing changed",
        expected_version=1,
    )
    # then Review.Revised holds the new verdict, rationale and the reason
    event = single_new_event(panel, head, receipt)
    assert receipt.version == 2
    assert envelope(event) == {
        "type": "Review.Revised",
        "actor": "reviewer:ada",
        "reason": "pricing changed",
        "request_id": "req-ada",
    }
    assert event.data == {"verdict": "skip", "rationale": RATIONALE}
    review = panel.review("alpha", "ada")
    assert (review["verdict"], review["revisions"]) == ("skip", 1)


def test_a_revision_must_change_something_and_say_why(panel: Ledger) -> None:
    submit(panel)
    refused(
        panel,
        errors.NothingChanged,
        panel.revise_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=f" {RATIONALE} ",
        reason="no reason to revise",
    )
    refused(
        panel,
        errors.ReasonRequired,
        panel.revise_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale="A new rationale, same verdict.",
        reason="",
    )


def test_revise_with_a_stale_version_is_a_conflict(panel: Ledger) -> None:
    submit(panel)
    panel.revise_review(
        ADA, "alpha", "ada", verdict="skip", rationale=RATIONALE, reason="one"
    )
    refused(
        panel,
        errors.StaleVersion,
        panel.revise_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
        reason="two",
        expected_version=1,
    )
    assert panel.review("alpha", "ada")["verdict"] == "skip"


def test_revise_of_a_missing_review_is_not_found(panel: Ledger) -> None:
    refused(
        panel,
        errors.ReviewNotFound,
        panel.revise_review,
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
        reason="why",
    )


def test_withdraw_review_needs_a_reason_and_happens_once(panel: Ledger) -> None:
    head = submit(panel) + 1
    refused(
        panel,
        errors.ReasonRequired,
        panel.withdraw_review,
        ADA,
        "alpha",
        "ada",
        reason=" ",
    )
    # when ada withdraws her review, saying why
    receipt = panel.withdraw_review(
        ADA, "alpha", "ada", reason="conflict of interest", expected_version=1
    )
    # then Review.Withdrawn records the reason
    event = single_new_event(panel, head, receipt)
    assert (event.type, event.reason, event.data) == (
        "Review.Withdrawn",
        "conflict of interest",
        {},
    )
    assert panel.review("alpha", "ada")["withdrawn"] is True
    # and a withdrawn review can be neither withdrawn again nor revised
    refused(
        panel,
        errors.ReviewWithdrawn,
        panel.withdraw_review,
        ADA,
        "alpha",
        "ada",
        reason="x",
    )
    refused(
        panel,
        errors.ReviewWithdrawn,
        panel.revise_review,
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
        reason="x",
    )


def test_submitting_after_a_withdrawal_resubmits(panel: Ledger) -> None:
    # given a withdrawn review
    submit(panel)
    panel.withdraw_review(ADA, "alpha", "ada", reason="pause")
    head = panel.head_position()
    # when ada submits again
    receipt = panel.submit_review(
        ADA, "alpha", "ada", verdict="skip", rationale="Back, less convinced."
    )
    # then the same review gets Review.Resubmitted, not a second Submitted
    event = single_new_event(panel, head, receipt)
    assert receipt.id == Review.id_for("alpha", "ada")
    assert (event.type, receipt.version) == ("Review.Resubmitted", 3)
    assert event.data == {"verdict": "skip", "rationale": "Back, less convinced."}
    review = panel.review("alpha", "ada")
    assert (review["withdrawn"], review["revisions"], review["verdict"]) == (
        False,
        1,
        "skip",
    )


def test_resubmitting_on_a_retired_tool_is_refused(panel: Ledger) -> None:
    submit(panel)
    panel.withdraw_review(ADA, "alpha", "ada", reason="pause")
    panel.retire_tool(EDITOR, "alpha", reason="gone")
    refused(
        panel,
        errors.ToolRetired,
        panel.submit_review,
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
    )


def test_put_review_submits_revises_and_resubmits(panel: Ledger) -> None:
    # when there is no review yet, put submits one
    first = panel.put_review(ADA, "alpha", "ada", verdict="ship", rationale=RATIONALE)
    assert single_new_event(panel, first.position - 1, first).type == "Review.Submitted"
    # when there is a live one, put revises it, and needs a reason to
    refused(
        panel,
        errors.ReasonRequired,
        panel.put_review,
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
    )
    second = panel.put_review(
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
        reason="benchmarks",
        expected_version=1,
    )
    event = single_new_event(panel, second.position - 1, second)
    assert (event.type, event.reason, second.version) == (
        "Review.Revised",
        "benchmarks",
        2,
    )
    # when it is withdrawn, put resubmits it, reason kept
    panel.withdraw_review(ADA, "alpha", "ada", reason="pause")
    third = panel.put_review(
        ADA,
        "alpha",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
        reason="back",
        expected_version=3,
    )
    event = single_new_event(panel, third.position - 1, third)
    assert (event.type, event.reason, event.data["verdict"]) == (
        "Review.Resubmitted",
        "back",
        "ship",
    )


def test_put_review_with_a_stale_version_is_a_conflict(panel: Ledger) -> None:
    submit(panel)
    refused(
        panel,
        errors.StaleVersion,
        panel.put_review,
        ADA,
        "alpha",
        "ada",
        verdict="skip",
        rationale=RATIONALE,
        reason="x",
        expected_version=4,
    )
