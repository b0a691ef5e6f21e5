"""The signed links a subscriber is mailed: to confirm, and to unsubscribe.

A link carries the subscription's id signed with the server secret
(itsdangerous), never the address. A confirmation link expires after
:data:`CONFIRM_SECONDS`; an unsubscribe link never does, since RFC 8058 asks
that the link in any mail keep working. The two are signed with different
salts, so one can never stand for the other.
"""

from __future__ import annotations

from uuid import UUID

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ledger.errors import InvalidInput

CONFIRM_SECONDS = 3 * 24 * 3600
CONFIRM_PATH = "/subscriptions/confirm"
UNSUBSCRIBE_PATH = "/subscriptions/unsubscribe"


class InvalidLink(InvalidInput):
    """A link was altered, signed with another secret, or has expired."""


class SubscriberLinks:
    """Makes and checks the links of one site.

    Args:
        secret: The server secret (the same on every node).
        site_url: Where readers reach the site, e.g. ``https://verdicts.example``.
    """

    def __init__(self, secret: bytes, site_url: str) -> None:
        self.site_url = site_url.rstrip("/")
        self._confirm = URLSafeTimedSerializer(secret, salt="subscription-confirm")
        self._unsubscribe = URLSafeTimedSerializer(
            secret, salt="subscription-unsubscribe"
        )

    def confirm_token(self, subscription_id: UUID) -> str:
        return str(self._confirm.dumps(str(subscription_id)))

    def unsubscribe_token(self, subscription_id: UUID) -> str:
        return str(self._unsubscribe.dumps(str(subscription_id)))

    def confirm_url(self, subscription_id: UUID) -> str:
        token = self.confirm_token(subscription_id)
        return f"{self.site_url}{CONFIRM_PATH}?token={token}"

    def unsubscribe_url(self, subscription_id: UUID) -> str:
        token = self.unsubscribe_token(subscription_id)
        return f"{self.site_url}{UNSUBSCRIBE_PATH}?token={token}"

    def confirmed(self, token: str, *, max_age: int = CONFIRM_SECONDS) -> UUID:
        """The subscription a confirmation ``token`` stands for."""
        return _checked(self._confirm, token, max_age, "confirmation")

    def unsubscribing(self, token: str) -> UUID:
        """The subscription an unsubscribe ``token`` stands for."""
        return _checked(self._unsubscribe, token, None, "unsubscribe")


def _checked(
    serializer: URLSafeTimedSerializer, token: str, max_age: int | None, what: str
) -> UUID:
    try:
        value = serializer.loads(token, max_age=max_age)
        return UUID(str(value))
    except SignatureExpired as error:
        msg = f"this {what} link has expired; subscribe again for a new one"
        raise InvalidLink(msg) from error
    except (BadSignature, ValueError) as error:
        msg = f"this {what} link is not valid"
        raise InvalidLink(msg) from error
