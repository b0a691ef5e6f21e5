"""The mails a subscriber gets from the site, and what every one of them carries.

Every mail to a subscriber carries the RFC 8058 one-click unsubscribe headers
(:func:`unsubscribe_headers`) and the same link in its text, so a mail
program can offer "unsubscribe" and a person can follow the link alike. The
confirmation mail of a double opt-in is built here; the digest's mails use
the same headers and sender.

``LEDGER_MAIL_FROM`` names the sender; by default ``Verdict Ledger
<verdicts@HOST>``, HOST being the host of the site's public address.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from urllib.parse import urlsplit
from uuid import UUID

from api.subscriber_links import CONFIRM_SECONDS, SubscriberLinks

SITE_NAME = "Verdict Ledger"
CONFIRM_SUBJECT = "Confirm your subscription to Weekly AI Tool Verdicts"


def unsubscribe_headers(
    links: SubscriberLinks, subscription_id: UUID
) -> dict[str, str]:
    """The RFC 8058 headers of a mail to ``subscription_id``'s subscriber.

    A mail provider that sees both POSTs ``List-Unsubscribe=One-Click`` to
    the link, without cookies; the link alone says who unsubscribes.
    """
    return {
        "List-Unsubscribe": f"<{links.unsubscribe_url(subscription_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def sender(site_url: str, mail_from: str = "") -> str:
    """The ``From`` of the site's mails: ``mail_from``, or one at the site's host.

    ``mail_from`` is ``LEDGER_MAIL_FROM``, checked when the node started
    (:class:`ledger.mail_transport.MailSettings`).
    """
    if mail_from:
        return mail_from
    host = urlsplit(site_url).hostname or ""
    named = "." in host and not host.replace(".", "").isdigit() and ":" not in host
    return str(Address(SITE_NAME, "verdicts", host if named else "localhost"))


def _domain(from_: str) -> str:
    return parseaddr(from_)[1].rpartition("@")[2] or "localhost"


def confirmation_mail(
    links: SubscriberLinks, subscription_id: UUID, address: str, from_: str
) -> EmailMessage:
    """The mail that asks ``address`` to confirm its subscription.

    Plain text with an HTML alternative; both say the link expires and that
    ignoring the mail is enough to not be subscribed.
    """
    confirm = links.confirm_url(subscription_id)
    headers = unsubscribe_headers(links, subscription_id)
    unsubscribe = headers["List-Unsubscribe"].strip("<>")  # one signing, one link
    days = CONFIRM_SECONDS // 86400
    message = EmailMessage()
    message["From"] = from_
    message["To"] = address
    message["Subject"] = CONFIRM_SUBJECT
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid("confirm", domain=_domain(from_))
    message["Auto-Submitted"] = "auto-generated"
    for name, value in headers.items():
        message[name] = value
    message.set_content(
        "Someone, hopefully you, asked for Weekly AI Tool Verdicts at this "
        f"address: once a week, the new comparisons and changed verdicts of "
        f"{SITE_NAME}.\n\n"
        f"To start receiving it, open this link and press the button:\n{confirm}\n\n"
        f"The link works for {days} days. If you did not ask for this, ignore "
        "this mail: nothing will be sent unless the link is followed.\n\n"
        f"Never want a mail from us at this address? {unsubscribe}\n"
    )
    message.add_alternative(
        "<!doctype html><html><body>"
        "<p>Someone, hopefully you, asked for <strong>Weekly AI Tool "
        f"Verdicts</strong> at this address: once a week, the new comparisons "
        f"and changed verdicts of {SITE_NAME}.</p>"
        f'<p><a href="{escape(confirm)}">Confirm your subscription</a></p>'
        f"<p>The link works for {days} days. If you did not ask for this, "
        "ignore this mail: nothing will be sent unless the link is followed.</p>"
        f'<p><a href="{escape(unsubscribe)}">Never mail this address</a></p>'
        "</body></html>",
        subtype="html",
    )
    return message
