"""Subscribing, confirming and unsubscribing over HTTP: what the JSON API and
the pages share.

Anyone may ask for the digest, so asking is rate-limited twice: per client
address (``LEDGER_SUBSCRIBE_PER_WINDOW``), and per subscription, so that a
crowd of clients cannot bury one inbox under confirmation mails. The answer
never says whether the address was known, pending or subscribed already.

The event is appended before the mail is sent: if the relay cannot take it,
the request answers 503 with ``Retry-After`` and a retry, which appends
nothing more while the subscription waits, sends the mail again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Request

from api import metrics
from api.commands import request_id
from api.config import ApiSettings
from api.problem_details import ApiProblem
from api.subscriber_links import SubscriberLinks
from api.subscriber_mail import confirmation_mail
from api.writer_thread import WriterThread
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.mail_transport import Refused, TransportError
from ledger.people_commands import Subscribed, normalised_address

log = logging.getLogger("api.subscriptions")

ASKED = (
    "If that address can take mail, a link to confirm the subscription is on "
    "its way; nothing is sent until it is followed."
)
"""The one answer to every subscription request, whatever the address's state."""
MAILS_PER_SUBSCRIPTION = 3
MAIL_WINDOW_SECONDS = 3600
"""At most this many confirmation mails to one address per window."""
RETRY_MAIL_SECONDS = 60
"""The ``Retry-After`` of a request whose mail the relay could not take."""


@dataclass(frozen=True)
class Changed:
    """What a confirm or unsubscribe did: the subscription and its new status."""

    subscription_id: UUID
    status: str


def links_of(request: Request[Any, Any, Any]) -> SubscriberLinks:
    """The worker's signed-link maker, made on first use."""
    state = request.app.state
    links: SubscriberLinks | None = state.get("subscriber_links")
    if links is None:
        settings: ApiSettings = state.settings
        links = SubscriberLinks(settings.ledger.server_secret(), settings.site_url)
        state.subscriber_links = links
    return links


def client_of(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def _limited(
    request: Request[Any, Any, Any], bucket: str, limit: int, window: int
) -> int | None:
    hit = request.app.state.rate_limiter.hit
    retry_after: int | None = await anyio.to_thread.run_sync(hit, bucket, limit, window)
    return retry_after


async def check_rate(request: Request[Any, Any, Any]) -> None:
    """Counts one subscription request of this client; 429 beyond its limit."""
    settings: ApiSettings = request.app.state.settings
    limit, window = settings.subscribe_per_window, settings.subscribe_window_seconds
    retry_after = await _limited(
        request, f"subscribe:{client_of(request)}", limit, window
    )
    if retry_after is not None:
        raise ApiProblem(
            "too-many-subscription-requests",
            f"this client address has asked for {limit} subscriptions in the last "
            f"{window} s; retry in {retry_after} s",
            {"Retry-After": str(retry_after)},
        )


def _subscribe(ledger: Ledger, request: str, address: str) -> tuple[Subscribed, str]:
    subscription_id = ledger.subscription_id(address)
    ctx = Context(actor=f"subscriber:{subscription_id}", request_id=request)
    return ledger.subscribe(ctx, address), normalised_address(address)


def _masked(detail: str, address: str) -> str:
    """A relay's words without the address, which servers like to quote."""
    return detail.replace(address, "<address>").replace(address.lower(), "<address>")


def _send(settings: ApiSettings, message: Any) -> None:
    with settings.mail.open_transport(settings.ledger.home) as transport:
        transport.send(message)


async def subscribe(request: Request[Any, Any, Any], address: str) -> None:
    """Records the request for ``address`` and mails it a confirmation link.

    Raises:
        ApiProblem: 429 (too many requests from this client) or 503 (the
            relay could not take the mail; the request was recorded).
        ledger.errors.InvalidAddress: Not an address; nothing was recorded.
    """
    await check_rate(request)
    state = request.app.state
    writer: WriterThread = state.writer
    call = functools.partial(_subscribe, state.ledger, request_id(request), address)
    done, normal = await writer.run(call)
    if done.receipt is not None:
        metrics.EVENTS_APPENDED.labels(command="subscribe").inc()
    if not done.confirm:
        return
    bucket = f"confirm-mail:{done.subscription_id}"
    if await _limited(request, bucket, MAILS_PER_SUBSCRIPTION, MAIL_WINDOW_SECONDS):
        return
    settings: ApiSettings = state.settings
    links = links_of(request)
    message = confirmation_mail(links, done.subscription_id, normal, settings.sender)
    try:
        await anyio.to_thread.run_sync(_send, settings, message)
    except Refused as refused:
        # The relay will never take it; the answer must not tell the caller so.
        detail = _masked(refused.detail, normal)
        log.warning("confirmation refused for %s: %s", done.subscription_id, detail)
    except TransportError as error:
        detail = _masked(str(error), normal)
        log.warning("confirmation not sent for %s: %s", done.subscription_id, detail)
        raise ApiProblem(
            "mail-unavailable",
            "the subscription was recorded, but its confirmation mail could not "
            f"be sent just now; send the same request again in {RETRY_MAIL_SECONDS} s",
            {"Retry-After": str(RETRY_MAIL_SECONDS)},
        ) from error


def _changed(ledger: Ledger, subscription_id: UUID) -> Changed:
    return Changed(subscription_id, ledger.subscription(subscription_id)["status"])


async def confirm(request: Request[Any, Any, Any], token: str) -> Changed:
    """Confirms the subscription a confirmation link's ``token`` names.

    Raises:
        api.subscriber_links.InvalidLink: Altered, foreign or expired token.
        ledger.errors.SubscriptionNotFound: No such subscription.
        ledger.errors.SubscriptionNotPending: It was ended since.
    """
    subscription_id = links_of(request).confirmed(token)
    return await _by_subscriber(request, subscription_id, Ledger.confirm_subscription)


async def unsubscribe(request: Request[Any, Any, Any], token: str) -> Changed:
    """Ends the subscription an unsubscribe link's ``token`` names; idempotent.

    Raises:
        api.subscriber_links.InvalidLink: Altered or foreign token.
        ledger.errors.SubscriptionNotFound: No such subscription.
    """
    subscription_id = links_of(request).unsubscribing(token)
    return await _by_subscriber(request, subscription_id, Ledger.unsubscribe)


async def _by_subscriber(
    request: Request[Any, Any, Any],
    subscription_id: UUID,
    command: Callable[[Ledger, Context, UUID], Receipt | None],
) -> Changed:
    """Runs the ledger's ``command`` on the subscription, as its subscriber."""
    ledger: Ledger = request.app.state.ledger
    ctx = Context(actor=f"subscriber:{subscription_id}", request_id=request_id(request))

    def run() -> Changed:
        if command(ledger, ctx, subscription_id) is not None:
            metrics.EVENTS_APPENDED.labels(command=command.__name__).inc()
        return _changed(ledger, subscription_id)

    writer: WriterThread = request.app.state.writer
    return await writer.run(run)
