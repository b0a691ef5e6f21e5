"""Schema evolution: a review stored by version 1 of ``Review.Submitted`` still reads.

Version 1 stored the verdict as a boolean ``ship``; version 2 stores the
string ``verdict``. The bytes below are what version 1 wrote, kept as a
literal so the test keeps proving old logs decode however the code changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import log
from ledger.application import Ledger
from ledger.domainmodel import Review

from .helpers import enroll, register, reviewer_ctx

V1_SUBMITTED = (
    b'{"timestamp":"2024-03-01T12:30:00.123456Z",'
    b'"originator_topic":"ledger.domainmodel:Review",'
    b'"actor":"reviewer:ada","reason":"","request_id":"legacy-7",'
    b'"tool":"alpha","reviewer":"ada","ship":%s,'
    b'"rationale":"Written before verdicts were words."}'
)
TOPIC = "ledger.domainmodel:Review.Submitted"


def store_v1(ledger: Ledger, ship: bool) -> None:
    """Puts version-1 bytes straight into the SQLite ``stored_events`` table."""
    state = V1_SUBMITTED % (b"true" if ship else b"false")
    assert b"class_version" not in state
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=Review.id_for("alpha", "ada"),
                originator_version=1,
                topic=TOPIC,
                state=state,
            )
        ]
    )


@pytest.fixture
def legacy(ledger: Ledger) -> Ledger:
    register(ledger, "alpha")
    enroll(ledger, "ada")
    return ledger


@pytest.mark.parametrize(("ship", "verdict"), [(True, "ship"), (False, "skip")])
def test_a_v1_review_loads_with_its_verdict(
    legacy: Ledger, ship: bool, verdict: str
) -> None:
    # given a review stored by version 1
    store_v1(legacy, ship)
    # when it is loaded
    review = legacy.review("alpha", "ada")
    # then the boolean became the verdict it meant
    assert review == {
        "tool": "alpha",
        "reviewer": "ada",
        "verdict": verdict,
        "rationale": "Written before verdicts were words.",
        "withdrawn": False,
        "revisions": 0,
        "version": 1,
    }
    event: Any
    (event,) = legacy.events.get(Review.id_for("alpha", "ada"))
    assert event.verdict == verdict
    assert not hasattr(event, "ship")
    assert event.timestamp == datetime(2024, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)


def test_log_decode_upcasts_v1_too(legacy: Ledger) -> None:
    # given a review stored by version 1
    store_v1(legacy, ship=True)
    # when followers of the log decode it
    (notification,) = legacy.recorder.select_notifications(start=3, limit=1)
    event = log.decode(notification)
    # then they see version 2's shape
    assert event.type == "Review.Submitted"
    assert event.data == {
        "tool": "alpha",
        "reviewer": "ada",
        "verdict": "ship",
        "rationale": "Written before verdicts were words.",
    }
    assert (event.actor, event.request_id) == ("reviewer:ada", "legacy-7")
    assert event.at == datetime(2024, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)


def test_a_v1_review_can_be_revised_and_new_events_are_v2(legacy: Ledger) -> None:
    # given a review stored by version 1
    store_v1(legacy, ship=True)
    # when its reviewer revises it
    receipt = legacy.revise_review(
        reviewer_ctx("ada"),
        "alpha",
        "ada",
        verdict="skip",
        rationale="Now in words.",
        reason="re-read",
        expected_version=1,
    )
    # then the revision follows it, and a new submission is written as version 2
    assert receipt.version == 2
    assert legacy.review("alpha", "ada")["verdict"] == "skip"
    register(legacy, "beta")
    legacy.submit_review(
        reviewer_ctx("ada"), "beta", "ada", verdict="ship", rationale="Fresh."
    )
    (stored,) = legacy.recorder.select_events(Review.id_for("beta", "ada"))
    assert b'"class_version":2' in stored.state
    assert b'"verdict":"ship"' in stored.state
