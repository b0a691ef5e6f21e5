"""The digest as mail: rendered once, then made into each subscriber's message.

Ten thousand subscribers get the same digest but for three things: the
address it goes to, its Message-ID and the unsubscribe link (in the RFC 8058
headers and in both parts). Building and flattening an
:class:`~email.message.EmailMessage` for each costs several milliseconds, more
than handing the mail over, so :class:`DigestMail` renders the digest once
with :data:`UNSUBSCRIBE` standing for the link, flattens the headers every
mail shares once, and for each subscriber only puts the link into the two
parts, encodes the text (base64, which ``binascii`` does in C) and joins
bytes; the HTML is made 7-bit once, so it needs no encoding at all.

The Message-ID is the same for one subscriber and one week however often
the mail is built, so a receiving server, and the outbox folder, see a mail
sent again as the same mail.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from html import escape
from uuid import UUID

from api.subscriber_links import SubscriberLinks
from api.subscriber_mail import unsubscribe_headers

UNSUBSCRIBE = "LEDGERUNSUBSCRIBELINK7Q3X"
"""What a rendered digest holds where each subscriber's unsubscribe link goes:
letters and digits only, so no template escapes or wraps it."""
LIST_ID = "Weekly AI Tool Verdicts"
HTML_LINE = 600
"""The HTML part's line length: room for an unsubscribe link within SMTP's 998."""
HEADERS = SMTP.clone(max_line_length=998)
"""How the shared headers are written: unfolded up to SMTP's line limit, as
``email`` folds some subjects before their first word, which readers then
show with a leading space; text beyond ASCII still goes as encoded words."""


@dataclass(frozen=True)
class Mail:
    """One subscriber's digest, ready to hand over.

    Attributes:
        sender: The envelope sender (the bare address of ``From``).
        recipient: The subscriber's address.
        message_id: The Message-ID, without angle brackets.
        data: The whole message, CRLF line ends.
        unsubscribe_url: The link the mail carries.
    """

    sender: str
    recipient: str
    message_id: str
    data: bytes
    unsubscribe_url: str


def _with_link(text: str, html: str) -> tuple[str, str]:
    """The parts, each sure to carry the link: added at the end where missing."""
    if UNSUBSCRIBE not in text:
        text = f"{text.rstrip()}\n\nUnsubscribe: {UNSUBSCRIBE}\n"
    if UNSUBSCRIBE not in html:
        footer = f'<p><a href="{UNSUBSCRIBE}">Unsubscribe</a></p>'
        at = html.lower().rfind("</body>")
        html = html[:at] + footer + html[at:] if at >= 0 else html + footer
    return text, html


def _crlf(text: str) -> str:
    return "\r\n".join(text.splitlines()) + "\r\n"


def _seven_bit(html: str, width: int = HTML_LINE) -> str:
    """An HTML document as ASCII lines of at most about ``width`` characters.

    Every character beyond ASCII becomes a character reference, so the part
    needs no transfer encoding, and the template's short lines are joined
    by a space (a line break between them is whitespace too): a receiving
    server reads a mail line by line, so fewer lines go faster. Documents
    with preformatted text keep their lines.
    """
    ascii_html = html.encode("ascii", "xmlcharrefreplace").decode()
    lines = [line.strip() for line in ascii_html.splitlines()]
    if "<pre" in ascii_html.lower() or "<textarea" in ascii_html.lower():
        return "\r\n".join(lines) + "\r\n"
    packed: list[str] = []
    current = ""
    for line in filter(None, lines):
        if current and len(current) + 1 + len(line) > width:
            packed.append(current)
            current = line
        else:
            current = f"{current} {line}" if current else line
    return "\r\n".join([*packed, current]) + "\r\n"


def _encoded(text: str) -> bytes:
    """``text`` as a base64 body with CRLF line ends."""
    return base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")


class DigestMail:
    """One week's digest, rendered, and the mails made from it.

    Args:
        week: The week's label (``2026-W48``): part of every Message-ID.
        subject: The mails' subject.
        sender: The ``From`` (``Name <address>``).
        text: The plain-text digest, with :data:`UNSUBSCRIBE` for the link.
        html: The HTML digest, likewise (the link goes in as an attribute
            value, escaped).
        links: Makes each subscriber's unsubscribe link.
        date: The ``Date`` of every mail (default: now).
    """

    def __init__(
        self,
        *,
        week: str,
        subject: str,
        sender: str,
        text: str,
        html: str,
        links: SubscriberLinks,
        date: str | None = None,
    ) -> None:
        text, html = _with_link(text, html)
        text = _crlf(text)
        self.week = week
        self.links = links
        self.sender = parseaddr(sender)[1]
        self.domain = self.sender.rpartition("@")[2] or "localhost"
        self._text = text.split(UNSUBSCRIBE)
        self._html = [piece.encode() for piece in _seven_bit(html).split(UNSUBSCRIBE)]
        boundary = "=_digest_" + hashlib.sha256(week.encode()).hexdigest()[:16]
        folded = EmailMessage(policy=HEADERS)
        folded["From"] = sender
        folded["Subject"] = subject
        folded["Date"] = date or formatdate(usegmt=True)
        shared = [
            *(HEADERS.fold_binary(name, value) for name, value in folded.items()),
            f"List-Id: {LIST_ID} <digest.{self.domain}>\r\n".encode(),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
            b"\r\n",
        ]
        self._head = b"".join(shared)
        part = "--{}\r\nContent-Type: text/{}; charset=utf-8\r\n"
        part += "Content-Transfer-Encoding: {}\r\n\r\n"
        self._plain = part.format(boundary, "plain", "base64").encode()
        self._rich = ("\r\n" + part.format(boundary, "html", "7bit")).encode()
        self._end = f"\r\n--{boundary}--\r\n".encode()

    def message_id(self, subscription_id: UUID) -> str:
        """The Message-ID of the subscriber's mail of this week (no brackets)."""
        return f"digest.{self.week}.{subscription_id.hex}@{self.domain}"

    def mail(self, subscription_id: UUID, address: str) -> Mail:
        """The digest for one subscriber.

        Raises:
            ValueError: The address cannot go in a header as it is (a line
                break in it), which no validated address has.
        """
        if "\r" in address or "\n" in address:
            msg = "an address with a line break cannot be mailed"
            raise ValueError(msg)
        headers = unsubscribe_headers(self.links, subscription_id)
        url = headers["List-Unsubscribe"].strip("<>")
        message_id = self.message_id(subscription_id)
        own = [f"To: {address}\r\n", f"Message-ID: <{message_id}>\r\n"]
        own += [f"{name}: {value}\r\n" for name, value in headers.items()]
        data = b"".join(
            (
                "".join(own).encode(),
                self._head,
                self._plain,
                _encoded(url.join(self._text)),
                self._rich,
                escape(url).encode("ascii", "xmlcharrefreplace").join(self._html),
                self._end,
            )
        )
        return Mail(self.sender, address, message_id, data, url)
