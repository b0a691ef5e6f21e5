"""The aggregates that concern people rather than tools: subscribers and erasures.

A :class:`Subscription` is one address's subscription to the weekly digest.
Its id comes from a keyed hash of the address, so one address has one
subscription and the log never holds the address in the clear: the address
itself is sealed for the subscriber (:mod:`ledger.personal_data`).

An :class:`Erasure` records that a person's key was destroyed: from then on
everything sealed for them reads as erased, in every copy of the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from uuid import UUID, uuid4

from ledger import errors, rules
from ledger.context import Context
from ledger.domainmodel import LedgerAggregate

PENDING = "pending"
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
PAUSED = "paused"
PAUSE_AFTER_FAILURES = 3
"""Failed deliveries after which a subscription is paused."""
MAX_ADDRESS = 254
MAX_DETAIL = 500


class Subscription(LedgerAggregate):
    """One address's subscription to the weekly digest, double opted in."""

    kind = "subscription"

    if TYPE_CHECKING:  # set by the events' apply methods
        address: str
        person: str
        status: str
        failures: int

    class Requested(LedgerAggregate.Created):
        address: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("address",)

        def apply(self, subscription: Subscription) -> None:
            subscription.address = self.address
            subscription.person = self.person
            subscription.status = PENDING
            subscription.failures = 0

    class Renewed(LedgerAggregate.Event):
        """Asked for again after unsubscribing or a pause: confirmed anew."""

        address: str
        person: str = ""

        personal: ClassVar[tuple[str, ...]] = ("address",)

        def apply(self, subscription: Subscription) -> None:
            subscription.address = self.address
            subscription.status = PENDING
            subscription.failures = 0

    class Confirmed(LedgerAggregate.Event):
        def apply(self, subscription: Subscription) -> None:
            subscription.status = ACTIVE

    class Unsubscribed(LedgerAggregate.Event):
        def apply(self, subscription: Subscription) -> None:
            subscription.status = UNSUBSCRIBED

    class DeliveryFailed(LedgerAggregate.Event):
        """A digest was bounced or refused; ``detail`` is the server's answer."""

        week: str
        detail: str

        def apply(self, subscription: Subscription) -> None:
            subscription.failures += 1

    class Paused(LedgerAggregate.Event):
        """No more digests until the subscriber asks again."""

        def apply(self, subscription: Subscription) -> None:
            subscription.status = PAUSED

    @classmethod
    def request(
        cls, ctx: Context, subscription_id: UUID, person: str, address: str
    ) -> Subscription:
        return cls._create(
            cls.Requested,
            id=subscription_id,
            actor=ctx.actor,
            request_id=ctx.request_id,
            reason="",
            address=address,
            person=person,
        )

    def renew(self, ctx: Context, address: str) -> bool:
        """Asks again; True if the subscription now waits for a confirmation."""
        if self.status == ACTIVE:
            return False
        if self.status in (UNSUBSCRIBED, PAUSED):
            self._record(self.Renewed, ctx, address=address, person=self.person)
        return True

    def confirm(self, ctx: Context) -> bool:
        """Confirms a pending subscription; True if that changed anything."""
        if self.status == ACTIVE:
            return False
        if self.status != PENDING:
            msg = "this subscription is not waiting for a confirmation"
            raise errors.SubscriptionNotPending(msg)
        self._record(self.Confirmed, ctx)
        return True

    def unsubscribe(self, ctx: Context, reason: str) -> bool:
        """Ends the subscription; True if it was not ended already."""
        if self.status == UNSUBSCRIBED:
            return False
        why = rules.reason(reason, required=False)
        self._record(self.Unsubscribed, ctx, reason=why)
        return True

    def delivery_failed(self, ctx: Context, week: str, detail: str) -> None:
        """Records a failed delivery, and pauses after repeated failures."""
        self._record(self.DeliveryFailed, ctx, week=week, detail=detail[:MAX_DETAIL])
        if self.status == ACTIVE and self.failures >= PAUSE_AFTER_FAILURES:
            self._record(
                self.Paused,
                ctx,
                reason=f"{self.failures} deliveries failed",
            )


class Erasure(LedgerAggregate):
    """That one person's key was destroyed, so their sealed data reads as erased.

    Each erasure is an aggregate of its own (a person given new data after an
    erasure can be erased again); ``person`` is the pseudonym the data was
    sealed for, never the data.
    """

    kind = "erasure"

    if TYPE_CHECKING:
        person: str

    class Recorded(LedgerAggregate.Created):
        person: str

        def apply(self, erasure: Erasure) -> None:
            erasure.person = self.person

    @classmethod
    def record(cls, ctx: Context, person: str, reason: str) -> Erasure:
        why = rules.reason(reason, required=True, what="erasing a person's data")
        return cls._start(cls.Recorded, uuid4(), ctx, person=person, reason=why)
