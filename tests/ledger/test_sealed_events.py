"""Personal fields are sealed on their way into the log and opened on the way out.

The mapper seals each field an event class names in ``personal`` for the
event's ``person``; aggregates loaded from the log see the clear text, so
the domain's rules (nothing changed, say) still compare what people wrote.
"""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.application import Ledger
from ledger.personal_data import ERASED, PRIVATE, is_sealed, person_of

from .helpers import ADMIN, RATIONALE, ReadLog, enroll, register, reviewer_ctx


@pytest.fixture
def reviewed(ledger: Ledger) -> Ledger:
    register(ledger, "alpha")
    enroll(ledger, "ada")
    enroll(ledger, "bob")
    ledger.submit_review(
        reviewer_ctx("ada"), "alpha", "ada", verdict="ship", rationale=RATIONALE
    )
    return ledger


def test_the_log_holds_names_rationales_and_reasons_sealed(
    reviewed: Ledger, events: ReadLog
) -> None:
    reviewed.revise_review(
        reviewer_ctx("ada"),
        "alpha",
        "ada",
        verdict="skip",
        rationale="The licence changed under us.",
        reason="Read the new licence terms.",
    )
    reviewed.edit_reviewer(ADMIN, "ada", {"name": "Ada L."})
    logged = {event.type: event for event in events()}

    sealed = [
        logged["Reviewer.Enrolled"].data["name"],
        logged["Review.Submitted"].data["rationale"],
        logged["Review.Revised"].data["rationale"],
        logged["Review.Revised"].reason,
        logged["Reviewer.ProfileEdited"].data["changes"]["name"],
    ]
    assert all(is_sealed(value) for value in sealed)
    assert {person_of(value) for value in sealed[1:]} == {"reviewer:ada"}
    assert logged["Review.Revised"].data["verdict"] == "skip", "verdicts stay clear"
    assert logged["Tool.Registered"].data["name"] == "Alpha", "tools are not people"
    texts = [RATIONALE, "The licence changed under us.", "Read the new licence"]
    assert not any(text in repr(events()) for text in texts)


def test_loaded_aggregates_see_the_clear_text(reviewed: Ledger) -> None:
    assert reviewed.reviewer("ada")["name"] == "Ada"
    assert reviewed.review("alpha", "ada")["rationale"] == RATIONALE
    with pytest.raises(errors.NothingChanged):
        reviewed.revise_review(
            reviewer_ctx("ada"),
            "alpha",
            "ada",
            verdict="ship",
            rationale=RATIONALE,
            reason="Same again.",
        )


def test_public_unseal_opens_reviewers_but_not_subscribers(
    reviewed: Ledger, events: ReadLog
) -> None:
    reviewed.subscribe(ADMIN, "reader@example.com")
    logged = {event.type: event for event in reversed(events())}
    name = logged["Reviewer.Enrolled"].data["name"]
    address = logged["Subscription.Requested"].data["address"]

    assert reviewed.sealer.unseal(name) == "Ada"
    assert reviewed.sealer.unseal(address) == PRIVATE
    assert reviewed.sealer.unseal(address, private=True) == "reader@example.com"


def test_after_an_erasure_only_that_persons_data_reads_as_erased(
    reviewed: Ledger, events: ReadLog
) -> None:
    reviewed.submit_review(
        reviewer_ctx("bob"), "alpha", "bob", verdict="skip", rationale="Too slow."
    )
    reviewed.erase(ADMIN, "reviewer:ada", "Asked to be forgotten.")
    stored = [event.data for event in events()]

    opened = reviewed.sealer.unseal_tree(stored)
    assert RATIONALE not in repr(opened)
    assert "Too slow." in repr(opened)
    assert "Bob" in repr(opened)
    assert ERASED in repr(opened)
    fresh = Ledger(reviewed.settings, env=dict(reviewed.env))
    try:
        assert fresh.reviewer("ada")["name"] == ERASED
        assert fresh.review("alpha", "ada")["rationale"] == ERASED
        assert fresh.reviewer("bob")["name"] == "Bob"
    finally:
        fresh.close()


def test_an_erasure_is_recorded_once_and_needs_a_reason(
    reviewed: Ledger, events: ReadLog
) -> None:
    with pytest.raises(errors.ReasonRequired):
        reviewed.erase(ADMIN, "reviewer:ada", "  ")
    assert reviewed.sealer.unseal(events()[1].data["name"]) == "Ada"

    reviewed.erase(ADMIN, "reviewer:ada", "Asked to be forgotten.")
    with pytest.raises(errors.AlreadyErased):
        reviewed.erase(ADMIN, "reviewer:ada", "Again.")
    with pytest.raises(errors.PersonNotFound):
        reviewed.erase(ADMIN, "reviewer:nobody", "Never here.")
    with pytest.raises(errors.InvalidPerson):
        reviewed.person_named("editor:e1")
    erasures = [event for event in events() if event.type == "Erasure.Recorded"]
    assert [(e.data["person"], e.reason) for e in erasures] == [
        ("reviewer:ada", "Asked to be forgotten.")
    ]


def test_new_data_after_an_erasure_gets_a_new_key(reviewed: Ledger) -> None:
    reviewed.erase(ADMIN, "reviewer:ada", "Asked to be forgotten.")

    reviewed.edit_reviewer(ADMIN, "ada", {"name": "Ada Again"})

    assert reviewed.reviewer("ada")["name"] == "Ada Again"
    reviewed.erase(ADMIN, "reviewer:ada", "Asked again.")
