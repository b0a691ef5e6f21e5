"""Subscribing to the weekly digest: double opt-in, unsubscribing, failed deliveries.

The log never holds the address in the clear: the subscription's id is a
keyed hash of it, and the address itself is sealed for the subscriber.
"""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.application import Ledger
from ledger.context import Context
from ledger.people import PAUSE_AFTER_FAILURES
from ledger.personal_data import is_sealed, person_of

from .helpers import ReadLog

READER = Context(actor="public", request_id="req-subscribe")
ADDRESS = "Ann.Reader@Example.COM"


def test_subscribing_records_a_sealed_request_and_waits_for_confirmation(
    ledger: Ledger, events: ReadLog
) -> None:
    subscribed = ledger.subscribe(READER, ADDRESS)

    assert subscribed.confirm
    assert subscribed.receipt is not None
    [requested] = events()
    assert requested.type == "Subscription.Requested"
    assert is_sealed(requested.data["address"])
    assert person_of(requested.data["address"]) == requested.data["person"]
    assert "ann.reader" not in repr(requested).lower()
    state = ledger.subscription(subscribed.subscription_id)
    assert state["status"] == "pending"
    assert state["address"] == "Ann.Reader@example.com"


def test_one_address_has_one_subscription_whatever_its_case(ledger: Ledger) -> None:
    first = ledger.subscribe(READER, ADDRESS)
    again = ledger.subscribe(READER, " ann.reader@example.com ")

    assert again.subscription_id == first.subscription_id
    assert again.receipt is None
    assert again.confirm, "a pending subscription gets its link again"


def test_confirming_activates_and_is_idempotent(
    ledger: Ledger, events: ReadLog
) -> None:
    subscribed = ledger.subscribe(READER, ADDRESS)

    assert ledger.confirm_subscription(READER, subscribed.subscription_id)
    assert ledger.confirm_subscription(READER, subscribed.subscription_id) is None
    assert ledger.subscription(subscribed.subscription_id)["status"] == "active"
    assert [event.type for event in events()] == [
        "Subscription.Requested",
        "Subscription.Confirmed",
    ]
    assert not ledger.subscribe(READER, ADDRESS).confirm


def test_unsubscribing_ends_it_once_and_a_new_request_must_be_confirmed(
    ledger: Ledger, events: ReadLog
) -> None:
    subscribed = ledger.subscribe(READER, ADDRESS)
    ledger.confirm_subscription(READER, subscribed.subscription_id)

    assert ledger.unsubscribe(READER, subscribed.subscription_id, "one-click")
    assert ledger.unsubscribe(READER, subscribed.subscription_id) is None
    with pytest.raises(errors.SubscriptionNotPending):
        ledger.confirm_subscription(READER, subscribed.subscription_id)

    renewed = ledger.subscribe(READER, ADDRESS)
    assert renewed.confirm
    assert events()[-1].type == "Subscription.Renewed"
    assert ledger.subscription(subscribed.subscription_id)["status"] == "pending"


def test_repeated_failed_deliveries_pause_the_subscription(
    ledger: Ledger, events: ReadLog
) -> None:
    subscribed = ledger.subscribe(READER, ADDRESS)
    ledger.confirm_subscription(READER, subscribed.subscription_id)

    for week in range(1, PAUSE_AFTER_FAILURES + 1):
        ledger.record_delivery_failure(
            READER, subscribed.subscription_id, f"2026-W{week:02}", "550 no such user"
        )

    state = ledger.subscription(subscribed.subscription_id)
    assert state["status"] == "paused"
    assert state["failures"] == PAUSE_AFTER_FAILURES
    assert [e.type for e in events()].count("Subscription.Paused") == 1


@pytest.mark.parametrize(
    "address", ["", "not-an-address", "a@b", "two@@example.com", "x" * 250 + "@e.com"]
)
def test_a_bad_address_is_refused_and_nothing_appended(
    ledger: Ledger, events: ReadLog, address: str
) -> None:
    with pytest.raises(errors.InvalidAddress):
        ledger.subscribe(READER, address)

    assert events() == []


def test_an_unknown_subscription_is_not_found(ledger: Ledger) -> None:
    other = ledger.subscription_id("nobody@example.com")

    with pytest.raises(errors.SubscriptionNotFound):
        ledger.confirm_subscription(READER, other)


def test_an_erased_subscriber_is_unsubscribed_and_may_subscribe_afresh(
    ledger: Ledger, events: ReadLog
) -> None:
    subscribed = ledger.subscribe(READER, ADDRESS)
    ledger.confirm_subscription(READER, subscribed.subscription_id)

    ledger.erase(READER, ledger.person_named(ADDRESS), "Asked to be forgotten.")

    assert [e.type for e in events()][-2:] == [
        "Erasure.Recorded",
        "Subscription.Unsubscribed",
    ]
    assert ledger.subscription(subscribed.subscription_id)["status"] == "unsubscribed"
    again = ledger.subscribe(READER, ADDRESS)
    assert again.confirm
    ledger.confirm_subscription(READER, subscribed.subscription_id)
    assert ledger.subscription(subscribed.subscription_id)["address"] == (
        "Ann.Reader@example.com"
    )
