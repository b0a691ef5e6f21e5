"""Request and response bodies of ``/api/subscriptions``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from ledger.people import MAX_ADDRESS

Address = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=MAX_ADDRESS,
        description="The email address the weekly digest should go to",
        examples=["reader@example.org"],
    ),
]
Token = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="The token of a link mailed to the subscriber",
    ),
]


class SubscriptionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/subscriptions``: ask for the weekly digest at an address."""

    address: Address


class LinkToken(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/subscriptions/confirm`` or ``…/unsubscribe``: a link's token."""

    token: Token


class SubscriptionAsked(msgspec.Struct):
    """The one answer to a subscription request, whatever the address's state."""

    detail: str


class SubscriptionStatus(msgspec.Struct):
    """Where a subscription stands after a confirmation or an unsubscribe."""

    status: Literal["pending", "active", "unsubscribed", "paused"]
