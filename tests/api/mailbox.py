"""A real SMTP server in the test's process, and reading what it received.

:func:`smtp_server` runs aiosmtpd on a free loopback port; every message it
accepts is kept, parsed, in :attr:`Mailbox.messages`. ``LEDGER_SMTP_URL``
set to :attr:`Mailbox.url` sends the ledger's mails there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.api.helpers import free_port

LINK = re.compile(r"https?://\S+/subscriptions/(?:confirm|unsubscribe)\?token=[\w.-]+")


@dataclass
class Mailbox:
    """What the server accepted: envelopes and their messages, in order."""

    url: str
    envelopes: list[Any] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """Recipients the server refuses for good (550), as a relay does an unknown one."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        found: list[EmailMessage] = []
        for envelope in self.envelopes:
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least ``count`` have arrived (a served node sends)."""
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            assert time.monotonic() < deadline, f"{len(self.envelopes)} mails arrived"
            time.sleep(0.05)
        return self.messages


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def links_in(message: EmailMessage) -> list[str]:
    """The confirm and unsubscribe links in the text of ``message``, in order."""
    return LINK.findall(text_of(message))


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[Mailbox]:
    """aiosmtpd on ``port`` (by default a free one) of the loopback interface,
    without STARTTLS or AUTH."""
    port = port or free_port()
    mailbox = Mailbox(f"smtp://127.0.0.1:{port}?starttls=0")
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
