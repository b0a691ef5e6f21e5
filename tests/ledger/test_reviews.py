"""Reviews: submitted, revised, withdrawn and resubmitted, one per reviewer and tool."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import errors, rules
from ledger.application import Ledger
from ledger.domainmodel import Review

from .helpers import (
    ADMIN,
    EDITOR,
    RATIONALE,
    Given,
    enroll,
    envelope,
    nothing,
    refused,
    reviewer_ctx,
    shown_event,
)

ADA = reviewer_ctx("ada")


@pytest.fixture
def panel(two_tools: Ledger) -> Ledger:
    """Tools alpha and beta, reviewers ada (builder) and bob (skeptic)."""
    enroll(two_tools, "ada", "builder")
    enroll(two_tools, "bob", "skeptic")
    return two_tools


def submitted(ledger: Ledger) -> None:
    """Ada's ship on alpha."""
    ledger.submit_review(ADA, "alpha", "ada", verdict="ship", rationale=RATIONALE)


def withdrawn(ledger: Ledger) -> None:
    submitted(ledger)
    ledger.withdraw_review(ADA, "alpha", "ada", reason="pause")


def revised(ledger: Ledger) -> None:
    submitted(ledger)
    ledger.revise_review(
        ADA, "alpha", "ada", verdict="skip", rationale=RATIONALE, reason="one"
    )


def retired_tool(ledger: Ledger) -> None:
    ledger.retire_tool(EDITOR, "alpha", reason="discontinued")


def test_submit_review_appends_submitted(panel: Ledger) -> None:
    head = panel.head_position()
    # when ada reviews alpha
    receipt = panel.submit_review(
        ADA, "alpha", "ada", verdict="skip", rationale=f"  {RATIONALE}\n"
    )
    # then Review.Submitted holds tool, reviewer, verdict and trimmed rationale
    event = shown_event(panel, head, receipt)
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
        "person": "reviewer:ada",
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


def test_rationale_at_the_limit_is_accepted(panel: Ledger) -> None:
    longest = "x" * rules.MAX_RATIONALE
    panel.submit_review(ADA, "alpha", "ada", verdict="ship", rationale=longest)
    assert panel.review("alpha", "ada")["rationale"] == longest


def test_other_reviews_of_the_tool_or_by_the_reviewer_are_their_own(
    panel: Ledger,
) -> None:
    submitted(panel)
    panel.submit_review(ADA, "beta", "ada", verdict="skip", rationale=RATIONALE)
    panel.submit_review(
        reviewer_ctx("bob"), "alpha", "bob", verdict="ship", rationale=RATIONALE
    )
    assert panel.review("alpha", "ada")["verdict"] == "ship"
    assert panel.review("beta", "ada")["verdict"] == "skip"


@pytest.mark.parametrize(
    ("given", "tool", "reviewer", "verdict", "rationale", "error"),
    [
        *[
            (nothing, "alpha", "ada", verdict, RATIONALE, errors.InvalidVerdict)
            for verdict in ["yes", "Ship", "", "maybe"]
        ],
        *[
            (nothing, "alpha", "ada", "ship", rationale, errors.InvalidRationale)
            for rationale in ["", "   \n", "x" * (rules.MAX_RATIONALE + 1)]
        ],
        (nothing, "alpha", "nobody", "ship", RATIONALE, errors.ReviewerNotFound),
        (nothing, "gamma", "ada", "ship", RATIONALE, errors.ToolNotFound),
        (submitted, "alpha", "ada", "skip", "Changed.", errors.ReviewAlreadySubmitted),
        (retired_tool, "alpha", "ada", "ship", RATIONALE, errors.ToolRetired),
        (
            lambda ledger: (withdrawn(ledger), retired_tool(ledger)),
            "alpha",
            "ada",
            "ship",
            RATIONALE,
            errors.ToolRetired,
        ),
        (
            lambda ledger: ledger.retire_reviewer(ADMIN, "ada", reason="left"),
            "alpha",
            "ada",
            "ship",
            RATIONALE,
            errors.ReviewerRetired,
        ),
    ],
    ids=[
        *[f"verdict-{n}" for n in range(4)],
        *[f"rationale-{n}" for n in range(3)],
        "unknown-reviewer",
        "unknown-tool",
        "already-submitted",
        "retired-tool",
        "resubmitted-on-retired-tool",
        "retired-reviewer",
    ],
)
def test_submit_review_refuses(
    panel: Ledger,
    given: Given,
    tool: str,
    reviewer: str,
    verdict: str,
    rationale: str,
    error: type,
) -> None:
    given(panel)
    refused(
        panel,
        error,
        panel.submit_review,
        ADA,
        tool,
        reviewer,
        verdict=verdict,
        rationale=rationale,
    )


def test_revise_review_records_new_verdict_and_reason(panel: Ledger) -> None:
    # given ada's ship on alpha
    submitted(panel)
    head = panel.head_position()
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
    event = shown_event(panel, head, receipt)
    assert receipt.version == 2
    assert envelope(event) == {
        "type": "Review.Revised",
        "actor": "reviewer:ada",
        "reason": "pricing changed",
        "request_id": "req-ada",
    }
    assert event.data == {
        "verdict": "skip",
        "rationale": RATIONALE,
        "person": "reviewer:ada",
    }
    review = panel.review("alpha", "ada")
    assert (review["verdict"], review["revisions"]) == ("skip", 1)


REVISION = {"verdict": "ship", "rationale": RATIONALE, "reason": "why"}


@pytest.mark.parametrize(
    ("given", "command", "arguments", "error"),
    [
        (
            submitted,
            "revise_review",
            {**REVISION, "rationale": f" {RATIONALE} "},
            errors.NothingChanged,
        ),
        (
            submitted,
            "revise_review",
            {**REVISION, "rationale": "A new rationale, same verdict.", "reason": ""},
            errors.ReasonRequired,
        ),
        (
            revised,
            "revise_review",
            {**REVISION, "expected_version": 1},
            errors.StaleVersion,
        ),
        (nothing, "revise_review", REVISION, errors.ReviewNotFound),
        (withdrawn, "revise_review", REVISION, errors.ReviewWithdrawn),
        (submitted, "withdraw_review", {"reason": " "}, errors.ReasonRequired),
        (withdrawn, "withdraw_review", {"reason": "x"}, errors.ReviewWithdrawn),
        (
            submitted,
            "put_review",
            {"verdict": "skip", "rationale": RATIONALE},
            errors.ReasonRequired,
        ),
        (
            submitted,
            "put_review",
            {**REVISION, "expected_version": 4},
            errors.StaleVersion,
        ),
    ],
    ids=[
        "revise-nothing",
        "revise-without-reason",
        "revise-stale",
        "revise-missing",
        "revise-withdrawn",
        "withdraw-without-reason",
        "withdraw-twice",
        "put-revision-without-reason",
        "put-stale",
    ],
)
def test_changes_to_a_review_refuse(
    panel: Ledger, given: Given, command: str, arguments: dict[str, Any], error: type
) -> None:
    given(panel)
    refused(panel, error, getattr(panel, command), ADA, "alpha", "ada", **arguments)


def test_withdraw_review_records_the_reason(panel: Ledger) -> None:
    submitted(panel)
    head = panel.head_position()
    # when ada withdraws her review, saying why
    receipt = panel.withdraw_review(
        ADA, "alpha", "ada", reason="conflict of interest", expected_version=1
    )
    # then Review.Withdrawn records the reason
    event = shown_event(panel, head, receipt)
    assert (event.type, event.reason, event.data) == (
        "Review.Withdrawn",
        "conflict of interest",
        {"person": "reviewer:ada"},
    )
    assert panel.review("alpha", "ada")["withdrawn"] is True


def test_submitting_after_a_withdrawal_resubmits(panel: Ledger) -> None:
    # given a withdrawn review
    withdrawn(panel)
    head = panel.head_position()
    # when ada submits again
    receipt = panel.submit_review(
        ADA, "alpha", "ada", verdict="skip", rationale="Back, less convinced."
    )
    # then the same review gets Review.Resubmitted, not a second Submitted
    event = shown_event(panel, head, receipt)
    assert receipt.id == Review.id_for("alpha", "ada")
    assert (event.type, receipt.version) == ("Review.Resubmitted", 3)
    assert event.data == {
        "verdict": "skip",
        "rationale": "Back, less convinced.",
        "person": "reviewer:ada",
    }
    review = panel.review("alpha", "ada")
    assert (review["withdrawn"], review["revisions"], review["verdict"]) == (
        False,
        1,
        "skip",
    )


@pytest.mark.parametrize(
    ("given", "verdict", "reason", "expected_version", "appended"),
    [
        (nothing, "ship", "", None, ("Review.Submitted", "", 1)),
        (submitted, "skip", "benchmarks", 1, ("Review.Revised", "benchmarks", 2)),
        (withdrawn, "skip", "back", 2, ("Review.Resubmitted", "back", 3)),
    ],
    ids=["submits", "revises", "resubmits"],
)
def test_put_review_does_what_the_reviews_state_calls_for(
    panel: Ledger,
    given: Given,
    verdict: str,
    reason: str,
    expected_version: int | None,
    appended: tuple[str, str, int],
) -> None:
    given(panel)
    head = panel.head_position()
    receipt = panel.put_review(
        ADA,
        "alpha",
        "ada",
        verdict=verdict,
        rationale=RATIONALE,
        reason=reason,
        expected_version=expected_version,
    )
    event = shown_event(panel, head, receipt)
    assert (event.type, event.reason, receipt.version) == appended
    assert event.data["verdict"] == verdict


def test_a_retired_reviewer_cannot_revise_but_may_withdraw(panel: Ledger) -> None:
    submitted(panel)
    panel.retire_reviewer(ADMIN, "ada", reason="left")
    head = panel.head_position()
    for revise in (panel.revise_review, panel.put_review):
        with pytest.raises(errors.ReviewerRetired):
            revise(
                ADA, "alpha", "ada", verdict="skip", rationale="Changed.", reason="r"
            )
    assert panel.head_position() == head
    panel.withdraw_review(ADA, "alpha", "ada", reason="leaving the panel")
    assert panel.review("alpha", "ada")["withdrawn"] is True
