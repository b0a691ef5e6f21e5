"""Reviewers: enrolled with a lens, their profile edited, retired."""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.application import Ledger
from ledger.domainmodel import Reviewer

from .helpers import (
    ADMIN,
    enroll,
    envelope,
    refused,
    register,
    reviewer_ctx,
    single_new_event,
)


def test_enroll_reviewer_appends_enrolled_with_name_and_lens(ledger: Ledger) -> None:
    # when an admin enrolls a reviewer
    receipt = ledger.enroll_reviewer(ADMIN, "ada", name="  Ada L.  ", lens="futurist")
    # then Reviewer.Enrolled holds the handle, the trimmed name and the lens
    event = single_new_event(ledger, 0, receipt)
    assert receipt.id == Reviewer.id_for("ada")
    assert receipt.version == 1
    assert envelope(event) == {
        "type": "Reviewer.Enrolled",
        "actor": "admin:a1",
        "reason": "",
        "request_id": "req-admin",
    }
    assert event.data == {"handle": "ada", "name": "Ada L.", "lens": "futurist"}
    assert ledger.reviewer("ada") == {
        "handle": "ada",
        "name": "Ada L.",
        "lens": "futurist",
        "retired": False,
        "version": 1,
    }


@pytest.mark.parametrize("lens", ["critic", "Builder", ""])
def test_enroll_reviewer_refuses_an_unknown_lens(ledger: Ledger, lens: str) -> None:
    refused(
        ledger,
        errors.InvalidLens,
        ledger.enroll_reviewer,
        ADMIN,
        "ada",
        name="Ada",
        lens=lens,
    )


def test_enroll_reviewer_refuses_a_bad_or_taken_handle(ledger: Ledger) -> None:
    refused(
        ledger,
        errors.InvalidSlug,
        ledger.enroll_reviewer,
        ADMIN,
        "Ada Lovelace",
        name="Ada",
        lens="builder",
    )
    enroll(ledger, "ada")
    refused(
        ledger,
        errors.ReviewerAlreadyEnrolled,
        ledger.enroll_reviewer,
        ADMIN,
        "ada",
        name="Another Ada",
        lens="buyer",
    )


def test_enroll_reviewer_refuses_an_empty_name(ledger: Ledger) -> None:
    refused(
        ledger,
        errors.InvalidField,
        ledger.enroll_reviewer,
        ADMIN,
        "ada",
        name=" ",
        lens="buyer",
    )


def test_edit_reviewer_renames_without_a_reason(ledger: Ledger) -> None:
    # given a reviewer
    enroll(ledger, "ada", "builder")
    # when only the name changes
    receipt = ledger.edit_reviewer(
        ADMIN, "ada", {"name": "Ada Byron"}, expected_version=1
    )
    # then ProfileEdited holds the new name and no reason
    event = single_new_event(ledger, 1, receipt)
    assert (event.type, event.reason, receipt.version) == (
        "Reviewer.ProfileEdited",
        "",
        2,
    )
    assert event.data == {"changes": {"name": "Ada Byron"}}
    assert ledger.reviewer("ada")["name"] == "Ada Byron"


def test_edit_reviewer_lens_needs_a_reason(ledger: Ledger) -> None:
    enroll(ledger, "ada", "builder")
    refused(
        ledger,
        errors.ReasonRequired,
        ledger.edit_reviewer,
        ADMIN,
        "ada",
        {"lens": "buyer"},
    )
    receipt = ledger.edit_reviewer(
        ADMIN, "ada", {"lens": "buyer", "name": "Ada"}, reason="moved to procurement"
    )
    event = single_new_event(ledger, 1, receipt)
    # the unchanged name is not recorded as a change
    assert event.data == {"changes": {"lens": "buyer"}}
    assert event.reason == "moved to procurement"
    assert ledger.reviewer("ada")["lens"] == "buyer"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "Ada"}, errors.NothingChanged),
        ({"lens": "builder", "name": "Ada"}, errors.NothingChanged),
        ({"email": "ada@example.org"}, errors.InvalidField),
        ({"lens": "critic"}, errors.InvalidLens),
    ],
)
def test_edit_reviewer_refuses_no_change_and_bad_fields(
    ledger: Ledger, changes: dict[str, str], error: type[Exception]
) -> None:
    enroll(ledger, "ada", "builder")
    refused(ledger, error, ledger.edit_reviewer, ADMIN, "ada", changes, reason="why")


def test_edit_reviewer_with_a_stale_version_is_a_conflict(ledger: Ledger) -> None:
    enroll(ledger, "ada")
    ledger.edit_reviewer(ADMIN, "ada", {"name": "Ada B."})
    refused(
        ledger,
        errors.StaleVersion,
        ledger.edit_reviewer,
        ADMIN,
        "ada",
        {"name": "Ada C."},
        expected_version=1,
    )


def test_retire_reviewer_needs_a_reason_and_stops_new_reviews(ledger: Ledger) -> None:
    # given a reviewer and a tool
    enroll(ledger, "ada")
    register(ledger, "alpha")
    refused(
        ledger, errors.ReasonRequired, ledger.retire_reviewer, ADMIN, "ada", reason=""
    )
    # when the reviewer is retired
    receipt = ledger.retire_reviewer(ADMIN, "ada", reason="left the panel")
    event = single_new_event(ledger, 2, receipt)
    assert (event.type, event.reason, event.data) == (
        "Reviewer.Retired",
        "left the panel",
        {},
    )
    # then they cannot review, nor be retired again
    refused(
        ledger,
        errors.ReviewerRetired,
        ledger.submit_review,
        reviewer_ctx("ada"),
        "alpha",
        "ada",
        verdict="ship",
        rationale="Still good.",
    )
    refused(
        ledger, errors.ReviewerRetired, ledger.retire_reviewer, ADMIN, "ada", reason="x"
    )


def test_unknown_reviewer_is_not_found(ledger: Ledger) -> None:
    refused(
        ledger,
        errors.ReviewerNotFound,
        ledger.edit_reviewer,
        ADMIN,
        "nobody",
        {"name": "X"},
    )
    refused(
        ledger,
        errors.ReviewerNotFound,
        ledger.retire_reviewer,
        ADMIN,
        "nobody",
        reason="x",
    )
