"""``/api/subscriptions``: the weekly digest, asked for, confirmed and ended.

Public: a subscriber has no token, only the signed links mailed to them
(:mod:`api.subscriber_links`). The pages offer the same through forms
(:mod:`api.controllers.subscription_pages`).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api import subscribing
from api.problem_details import documented
from api.subscription_schemas import (
    LinkToken,
    SubscriptionAsked,
    SubscriptionRequest,
    SubscriptionStatus,
)

NO_STORE = {"Cache-Control": "no-store"}


def _status(changed: subscribing.Changed) -> Response[SubscriptionStatus]:
    status = SubscriptionStatus(status=changed.status)  # type: ignore[arg-type]
    return Response(content=status, status_code=200, headers=NO_STORE)


class SubscriptionsController(Controller):
    """Subscriptions to the weekly digest (double opt-in)."""

    path = "/api/subscriptions"
    tags = ["subscriptions"]

    @post(
        "/",
        status_code=202,
        summary="Ask for the weekly digest at an address (rate-limited)",
        responses=documented(422, 429),
    )
    async def subscribe(
        self, request: Request[Any, Any, State], data: JSONBody[SubscriptionRequest]
    ) -> Response[SubscriptionAsked]:
        """202 whatever the address's state; a confirmation link is mailed.

        The answer is the same for a new, pending or subscribed address, so
        it tells no one who subscribes. Nothing is mailed to an address
        already subscribed, nor more than three times an hour to one address.
        Each client address may ask ``LEDGER_SUBSCRIBE_PER_WINDOW`` times per
        ``LEDGER_SUBSCRIBE_WINDOW_SECONDS``, then 429. A 503
        ``mail-unavailable`` means the request was recorded but the mail
        could not be sent: send the same request again after Retry-After.
        Repeating a request is harmless, so ``Idempotency-Key`` is not needed.
        """
        await subscribing.subscribe(request, data.address)
        return Response(
            content=SubscriptionAsked(detail=subscribing.ASKED),
            status_code=202,
            headers=NO_STORE,
        )

    @post(
        "/confirm",
        status_code=200,
        summary="Confirm a subscription with the mailed link's token",
        responses=documented(404, 409, 422),
    )
    async def confirm(
        self, request: Request[Any, Any, State], data: JSONBody[LinkToken]
    ) -> Response[SubscriptionStatus]:
        """The subscription, now active; confirming twice changes nothing.

        An altered, foreign or expired token is 422 ``invalid-link``; a
        subscription ended since its link was mailed is 409.
        """
        return _status(await subscribing.confirm(request, data.token))

    @post(
        "/unsubscribe",
        status_code=200,
        summary="End a subscription with the mailed link's token",
        responses=documented(404, 422),
    )
    async def unsubscribe(
        self, request: Request[Any, Any, State], data: JSONBody[LinkToken]
    ) -> Response[SubscriptionStatus]:
        """The subscription, now ended; ending it again changes nothing."""
        return _status(await subscribing.unsubscribe(request, data.token))
