"""Reviewers: enrolled with a lens, their profile edited, retired."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger import errors
from ledger.application import Ledger
from ledger.domainmodel import Reviewer

from .helpers import (
    ADMIN,
    Given,
    enroll,
    envelope,
    nothing,
    refused,
    shown_event,
    single_new_event,
)


def test_enroll_reviewer_appends_enrolled_with_name_and_lens(ledger: Ledger) -> None:
    # when an admin enrolls a reviewer
    receipt = ledger.enroll_reviewer(ADMIN, "ada", name="  Ada L.  ", lens="futurist")
    # then Reviewer.Enrolled holds the handle, the trimmed name and the lens
    event = shown_event(ledger, 0, receipt)
    assert receipt.id == Reviewer.id_for("ada")
    assert receipt.version == 1
    assert envelope(event) == {
        "type": "Reviewer.Enrolled",
        "actor": "admin:a1",
        "reason": "",
        "request_id": "req-admin",
    }
    assert event.data == {
        "handle": "ada",
        "name": "Ada L.",
        "lens": "futurist",
        "person": "reviewer:ada",
    }
    assert ledger.reviewer("ada") == {
        "handle": "ada",
        "name": "Ada L.",
        "lens": "futurist",
        "retired": False,
        "version": 1,
    }


@pytest.mark.parametrize(
    ("given", "handle", "name", "lens", "error"),
    [
        *[
            (nothing, "ada", "Ada", lens, errors.InvalidLens)
            for lens in ["critic", "Builder", ""]
        ],
        (nothing, "Ada Lovelace", "Ada", "builder", errors.InvalidSlug),
        (nothing, "ada", " ", "buyer", errors.InvalidField),
        (enroll, "ada", "Another Ada", "buyer", errors.ReviewerAlreadyEnrolled),
    ],
    ids=["critic", "capitalised", "no-lens", "bad-handle", "no-name", "taken"],
)
def test_enroll_reviewer_refuses(
    ledger: Ledger, given: Given, handle: str, name: str, lens: str, error: type
) -> None:
    given(ledger)
    refused(ledger, error, ledger.enroll_reviewer, ADMIN, handle, name=name, lens=lens)


def test_edit_reviewer_renames_without_a_reason(ledger: Ledger) -> None:
    # given a reviewer
    enroll(ledger, "ada", "builder")
    # when only the name changes
    receipt = ledger.edit_reviewer(
        ADMIN, "ada", {"name": "Ada Byron"}, expected_version=1
    )
    # then ProfileEdited holds the new name and no reason
    event = shown_event(ledger, 1, receipt)
    assert (event.type, event.reason, receipt.version) == (
        "Reviewer.ProfileEdited",
        "",
        2,
    )
    assert event.data == {"changes": {"name": "Ada Byron"}, "person": "reviewer:ada"}
    assert ledger.reviewer("ada")["name"] == "Ada Byron"


def test_edit_reviewer_lens_is_recorded_with_its_reason(ledger: Ledger) -> None:
    enroll(ledger, "ada", "builder")
    receipt = ledger.edit_reviewer(
        ADMIN, "ada", {"lens": "buyer", "name": "Ada"}, reason="moved to procurement"
    )
    event = shown_event(ledger, 1, receipt)
    # the unchanged name is not recorded as a change
    assert event.data == {"changes": {"lens": "buyer"}, "person": "reviewer:ada"}
    assert event.reason == "moved to procurement"
    assert ledger.reviewer("ada")["lens"] == "buyer"


def renamed(ledger: Ledger) -> None:
    enroll(ledger)
    ledger.edit_reviewer(ADMIN, "ada", {"name": "Ada B."})


def retired(ledger: Ledger) -> None:
    enroll(ledger)
    ledger.retire_reviewer(ADMIN, "ada", reason="left the panel")


Command = Callable[[Ledger, str], object]


def edit(changes: dict[str, str], **keywords: Any) -> Command:
    return lambda ledger, handle: ledger.edit_reviewer(
        ADMIN, handle, changes, **keywords
    )


def retire(reason: str) -> Command:
    return lambda ledger, handle: ledger.retire_reviewer(ADMIN, handle, reason=reason)


@pytest.mark.parametrize(
    ("given", "handle", "command", "error"),
    [
        (enroll, "ada", edit({"name": "Ada"}, reason="why"), errors.NothingChanged),
        (
            enroll,
            "ada",
            edit({"lens": "builder", "name": "Ada"}, reason="why"),
            errors.NothingChanged,
        ),
        (enroll, "ada", edit({"email": "a@b.org"}, reason="why"), errors.InvalidField),
        (enroll, "ada", edit({"lens": "critic"}, reason="why"), errors.InvalidLens),
        (enroll, "ada", edit({"lens": "buyer"}), errors.ReasonRequired),
        (renamed, "ada", edit({"name": "C."}, expected_version=1), errors.StaleVersion),
        (nothing, "nobody", edit({"name": "X"}), errors.ReviewerNotFound),
        (retired, "ada", edit({"name": "X"}), errors.ReviewerRetired),
        (enroll, "ada", retire(""), errors.ReasonRequired),
        (retired, "ada", retire("x"), errors.ReviewerRetired),
        (nothing, "nobody", retire("x"), errors.ReviewerNotFound),
    ],
    ids=[
        "same-name",
        "same-lens-and-name",
        "unknown-field",
        "unknown-lens",
        "lens-without-reason",
        "stale",
        "edit-unknown",
        "edit-retired",
        "retire-without-reason",
        "retire-twice",
        "retire-unknown",
    ],
)
def test_edit_and_retire_reviewer_refuse(
    ledger: Ledger, given: Given, handle: str, command: Command, error: type
) -> None:
    given(ledger)
    refused(ledger, error, command, ledger, handle)


def test_retire_reviewer_records_why(ledger: Ledger) -> None:
    enroll(ledger)
    receipt = ledger.retire_reviewer(ADMIN, "ada", reason="left the panel")
    event = single_new_event(ledger, 1, receipt)
    assert (event.type, event.reason, event.data) == (
        "Reviewer.Retired",
        "left the panel",
        {},
    )
    assert ledger.reviewer("ada")["retired"] is True
