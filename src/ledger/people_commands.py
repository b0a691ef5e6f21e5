"""The ledger's commands and queries about people: subscribers and erasures.

A mixin of :class:`ledger.application.Ledger`, kept apart because none of
it touches the verdicts: subscribing to the digest (double opt-in), the
digest's failed deliveries, and erasing a person's sealed data by
destroying their key (:mod:`ledger.personal_data`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from email_validator import EmailNotValidError, validate_email

from ledger import errors
from ledger.context import Context
from ledger.domainmodel import Reviewer
from ledger.people import MAX_ADDRESS, Erasure, Subscription
from ledger.personal_data import KINDS, subscriber_person
from ledger.repository import Receipt

PSEUDONYM = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""A reviewer's handle or a subscription's id, as persons name them."""

if TYPE_CHECKING:
    from ledger.repository import LedgerApplication

    _Base = LedgerApplication
else:
    _Base = object


@dataclass(frozen=True)
class Subscribed:
    """What a subscribe command did.

    Attributes:
        subscription_id: The address's subscription.
        receipt: The appended event's receipt; None if nothing was appended.
        confirm: Whether a confirmation link should be mailed to the address.
    """

    subscription_id: UUID
    receipt: Receipt | None
    confirm: bool


def normalised_address(address: str) -> str:
    """The address as one subscription knows it, or :class:`errors.InvalidAddress`."""
    if not isinstance(address, str) or len(address) > MAX_ADDRESS:
        msg = f"an email address has at most {MAX_ADDRESS} characters"
        raise errors.InvalidAddress(msg)
    try:
        valid = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise errors.InvalidAddress(f"not an email address: {error}") from error
    return valid.normalized


class PeopleCommands(_Base):
    """Subscriptions to the digest and erasures of people's data."""

    def subscription_id(self, address: str) -> UUID:
        """The id of ``address``'s subscription: a keyed hash, never the address."""
        normal = normalised_address(address).lower()
        key = hmac.new(
            self.settings.server_secret(),
            f"subscriber:{normal}".encode(),
            hashlib.sha256,
        ).hexdigest()[:32]
        return Subscription.id_for(key)

    def subscribe(self, ctx: Context, address: str) -> Subscribed:
        """Asks for the digest at ``address``; it starts once the link is followed."""
        address = normalised_address(address)
        subscription_id = self.subscription_id(address)
        existing = self._find(Subscription, subscription_id)
        if existing is None:
            person = subscriber_person(str(subscription_id))
            new = Subscription.request(ctx, subscription_id, person, address)
            created = self._save(
                new,
                duplicate=errors.ConcurrencyConflict(
                    "the subscription was asked for by another request; try again"
                ),
            )
            return Subscribed(subscription_id, created, confirm=True)
        confirm = existing.renew(ctx, address)
        receipt = self._save(existing) if existing.pending_events else None
        return Subscribed(subscription_id, receipt, confirm=confirm)

    def confirm_subscription(
        self, ctx: Context, subscription_id: UUID
    ) -> Receipt | None:
        subscription = self._subscription(subscription_id)
        return self._save(subscription) if subscription.confirm(ctx) else None

    def unsubscribe(
        self, ctx: Context, subscription_id: UUID, reason: str = ""
    ) -> Receipt | None:
        subscription = self._subscription(subscription_id)
        if not subscription.unsubscribe(ctx, reason):
            return None
        return self._save(subscription)

    def record_delivery_failure(
        self, ctx: Context, subscription_id: UUID, week: str, detail: str
    ) -> Receipt:
        """Records a bounced or refused digest; repeated failures pause it."""
        subscription = self._subscription(subscription_id)
        subscription.delivery_failed(ctx, week, detail)
        return self._save(subscription)

    def subscription(self, subscription_id: UUID) -> dict[str, Any]:
        """The subscription as it stands, with its address in the clear."""
        subscription = self._subscription(subscription_id, copy=False)
        return {
            "id": str(subscription.id),
            "address": subscription.address,
            "person": subscription.person,
            "status": subscription.status,
            "failures": subscription.failures,
            "version": subscription.version,
        }

    def _subscription(
        self, subscription_id: UUID, *, copy: bool = True
    ) -> Subscription:
        found = self._find(Subscription, subscription_id, copy=copy)
        if found is None:
            raise errors.SubscriptionNotFound("no such subscription")
        return found

    # Erasure.

    def person_named(self, name: str) -> str:
        """The person ``name`` stands for: an address, or ``kind:pseudonym``."""
        if "@" in name:
            return subscriber_person(str(self.subscription_id(name)))
        kind, _, pseudonym = name.partition(":")
        if kind not in KINDS or not PSEUDONYM.fullmatch(pseudonym):
            msg = (
                f"{name!r} names no person: give an email address, "
                "reviewer:HANDLE or subscriber:ID"
            )
            raise errors.InvalidPerson(msg)
        return f"{kind}:{pseudonym}"

    def erase(self, ctx: Context, person: str, reason: str) -> Receipt:
        """Destroys ``person``'s key, then records the erasure in the log.

        The key goes first: once it is gone the data is unreadable whatever
        happens next. An erasure whose key was destroyed but whose event was
        never appended (a crash between the two) is recorded by running it
        again.
        """
        erasure = Erasure.record(ctx, person, reason)  # the reason checked first
        outcome = self.keyring.destroy(person)
        if outcome == "unknown":
            raise errors.PersonNotFound(f"no personal data of {person} is held")
        if outcome == "recorded":
            raise errors.AlreadyErased(f"{person}'s data is erased already")
        receipt = self._save(erasure)
        self.keyring.mark_recorded(person)
        self._forget_cached(person)
        kind, _, pseudonym = person.partition(":")
        if kind == "subscriber":
            # An erased address can be mailed no more; asking again later
            # starts a new subscription to be confirmed, under a new key.
            with contextlib.suppress(errors.SubscriptionNotFound):
                receipt = self.unsubscribe(ctx, UUID(pseudonym), "erased") or receipt
        return receipt

    def _forget_cached(self, person: str) -> None:
        """Drops this process's cached aggregate that held the person's clear text.

        Other aggregates loaded earlier (a reviewer's reviews) keep theirs in
        this process's cache until they are evicted; nothing shows them.
        """
        kind, _, pseudonym = person.partition(":")
        cache = self.repository.cache
        if cache is None:
            return
        if kind == "reviewer":
            aggregate_id = Reviewer.id_for(pseudonym)
        else:
            aggregate_id = UUID(pseudonym)
        with contextlib.suppress(KeyError):
            cache.get(aggregate_id, evict=True)
