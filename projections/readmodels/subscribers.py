"""The digest's subscribers: each subscription's status, as the sender reads it.

One row per subscription, keyed by its id, holding the address sealed as
the log stores it: only the sender opens it, with the subscriber's key and
``private=True``, a chunk of rows at a time. Sending reads the active rows
in id order through the index on status, however many subscribers there are.

An erasure of a subscriber marks the row ``erased`` and blanks the sealed
address (it could no longer be opened anyway). Only a renewed subscription,
with an address sealed under a new key, brings the row back: a late
confirmation or delivery failure of an erased subscription leaves it erased.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.people import ACTIVE, PAUSED, PENDING, UNSUBSCRIBED, Erasure, Subscription
from projections.readmodel_parts import ReadModel, Row, Rows, Table, unknown

ERASED = "erased"
"""The status of a subscription whose person was erased."""

SUBSCRIBERS = Table(
    "subscribers",
    """
    CREATE TABLE subscribers (
        id TEXT PRIMARY KEY,
        person TEXT NOT NULL, address TEXT NOT NULL, status TEXT NOT NULL,
        failures INTEGER NOT NULL, confirmed_position INTEGER,
        position INTEGER NOT NULL, updated_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    key=("id",),
    columns=(
        "id",
        "person",
        "address",
        "status",
        "failures",
        "confirmed_position",
        "position",
        "updated_at",
    ),
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_subscribers_status ON subscribers (status, id)",
    ),
)


def _changed(rows: Rows, event: Any) -> Row | None:
    """The subscription's row, stamped with ``event``; None if never requested."""
    row: Row | None = rows[SUBSCRIBERS][event.aggregate_id]
    if row is None:
        unknown(event, "subscription")
        return None
    row["position"] = event.position
    row["updated_at"] = event.at
    return row


def requested(rows: Rows, event: Any) -> None:
    rows[SUBSCRIBERS].add(
        {
            "id": event.aggregate_id,
            "person": event.person,
            "address": event.address,
            "status": PENDING,
            "failures": 0,
            "confirmed_position": None,
            "position": event.position,
            "updated_at": event.at,
        }
    )


def renewed(rows: Rows, event: Any) -> None:
    row = _changed(rows, event)
    if row is not None:
        row["address"] = event.address
        row["status"] = PENDING
        row["failures"] = 0
        row["confirmed_position"] = None


def confirmed(rows: Rows, event: Any) -> None:
    row = _changed(rows, event)
    if row is not None and row["status"] != ERASED:
        row["status"] = ACTIVE
        row["confirmed_position"] = event.position


def unsubscribed(rows: Rows, event: Any) -> None:
    _set_status(rows, event, UNSUBSCRIBED)


def paused(rows: Rows, event: Any) -> None:
    _set_status(rows, event, PAUSED)


def _set_status(rows: Rows, event: Any, status: str) -> None:
    row = _changed(rows, event)
    if row is not None and row["status"] != ERASED:
        row["status"] = status


def delivery_failed(rows: Rows, event: Any) -> None:
    row = _changed(rows, event)
    if row is not None:
        row["failures"] += 1


def erased(rows: Rows, event: Any) -> None:
    """Marks an erased subscriber's row; erasures of reviewers are not ours."""
    kind, _, pseudonym = event.person.partition(":")
    if kind != "subscriber":
        return
    try:
        subscription_id = UUID(pseudonym).hex
    except ValueError:
        unknown(event, "subscriber")
        return
    row: Row | None = rows[SUBSCRIBERS][subscription_id]
    if row is None:
        unknown(event, "subscriber")
        return
    row["status"] = ERASED
    row["address"] = ""
    row["position"] = event.position
    row["updated_at"] = event.at


READ_MODEL = ReadModel(
    name="subscribers",
    tables=(SUBSCRIBERS,),
    handlers={
        Subscription.Requested: requested,
        Subscription.Renewed: renewed,
        Subscription.Confirmed: confirmed,
        Subscription.Unsubscribed: unsubscribed,
        Subscription.DeliveryFailed: delivery_failed,
        Subscription.Paused: paused,
        Erasure.Recorded: erased,
    },
)
