"""Where the ledger's mails go: an SMTP relay, or a folder when there is none.

``LEDGER_SMTP_URL`` names the relay: ``smtp://[user:password@]host[:port]``
(plain, upgraded with STARTTLS when ``?starttls=1`` or the server offers it
and ``?starttls=0`` is not given), or ``smtps://…`` for TLS from the first
byte. Without it, every mail is written as an ``.eml`` file to the folder
``LEDGER_HOME/outbox``, which is what a test or a site without a relay reads.

A :class:`Transport` keeps one connection open for many mails; a recipient
the server refuses for good raises :class:`Refused` (the address is at
fault: record it), anything else :class:`TransportError` (try later).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.settings import env_value

OUTBOX = "outbox"
TIMEOUT_SECONDS = 30.0


class TransportError(Exception):
    """The mail could not be handed over now; it may go through later."""


class NotHandedOver(TransportError):
    """The mail surely did not reach the relay: sending it again cannot double it.

    The relay could not be reached, or answered the mail with a temporary
    refusal; a connection lost in the middle of a mail is a plain
    :class:`TransportError`, since the relay may have taken the mail.
    """


class Refused(TransportError):
    """The server refused the recipient for good (a 5xx answer)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Transport(Protocol):
    """Hands mails over, one at a time, over one connection."""

    def send(self, message: EmailMessage) -> None: ...

    def send_bytes(self, sender: str, recipient: str, data: bytes, name: str) -> None:
        """Hands over a mail already flattened with CRLF line ends (ASCII only).

        What a sender of many nearly equal mails uses: flattening an
        :class:`EmailMessage` costs more than handing the mail over.
        ``name`` is its Message-ID, without the angle brackets.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class FolderTransport:
    """Writes each mail to ``folder`` as ``<Message-ID>.eml``, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage) -> None:
        name = (message["Message-ID"] or os.urandom(8).hex()).strip("<>")
        self._write(name, message.as_bytes(policy=SMTP))

    def send_bytes(self, sender: str, recipient: str, data: bytes, name: str) -> None:
        self._write(name, data)

    def _write(self, name: str, data: bytes) -> None:
        safe = "".join(c if c.isalnum() or c in "-._@" else "_" for c in name)
        path = self.folder / f"{safe}.eml"
        partial = path.with_name(f".{path.name}.partial")
        try:
            partial.write_bytes(data)
            partial.replace(path)
        except OSError as error:
            raise NotHandedOver(f"cannot write {path}: {error}") from error

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SmtpTransport:
    """Sends through an SMTP relay, with STARTTLS and AUTH when the URL asks."""

    def __init__(self, url: str, *, tls_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            # Never the URL itself: it may carry a password.
            msg = f"a relay is smtp://host[:port] or smtps://…, not '{parts.scheme}:…'"
            raise ValueError(msg)
        query = parse_qs(parts.query)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", [""])[0]
        self.tls_context = tls_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=TIMEOUT_SECONDS,
                    context=self.tls_context,
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            smtp.ehlo()
            wants_tls = self.starttls == "1" or (
                self.starttls != "0" and smtp.has_extn("starttls")
            )
            if not self.implicit_tls and wants_tls:
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.user is not None:
                smtp.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as error:
            raise NotHandedOver(
                f"cannot reach {self.host}:{self.port}: {error}"
            ) from error
        return smtp

    def send(self, message: EmailMessage) -> None:
        self._hand_over(lambda smtp: smtp.send_message(message))

    def send_bytes(self, sender: str, recipient: str, data: bytes, name: str) -> None:
        self._hand_over(lambda smtp: smtp.sendmail(sender, [recipient], data))

    def _hand_over(
        self, call: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]]
    ) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = call(self._smtp)
        except smtplib.SMTPNotSupportedError as error:
            # An address beyond ASCII, and a relay without SMTPUTF8: nothing sent.
            raise Refused(f"the relay cannot take this address: {error}") from error
        except smtplib.SMTPRecipientsRefused as error:
            detail = "; ".join(
                f"{code} {text.decode(errors='replace')}"
                for code, text in error.recipients.values()
            )
            if all(code >= 500 for code, _ in error.recipients.values()):
                raise Refused(detail) from error
            raise NotHandedOver(detail) from error
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            detail = f"{error.smtp_code} {text}"
            if error.smtp_code >= 500 and isinstance(error, smtplib.SMTPDataError):
                raise Refused(detail) from error
            self._drop()
            raise NotHandedOver(detail) from error
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise TransportError(str(error)) from error
        if refused:
            raise Refused(
                "; ".join(f"{code} {text!r}" for code, text in refused.values())
            )

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class MailSettings:
    """Where mails go and whom they are from, checked when a node starts.

    Attributes:
        smtp_url: ``LEDGER_SMTP_URL``, or "" to write mails to the outbox.
        ca_file: ``LEDGER_SMTP_CA_FILE``: the certificates (PEM) to trust for
            the relay's TLS instead of the system's, for a relay with a
            private CA; verification itself is never turned off.
        mail_from: ``LEDGER_MAIL_FROM`` as a header value, or "" for the
            site's default sender.
    """

    smtp_url: str = ""
    ca_file: str = ""
    mail_from: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        """Reads and checks the three variables.

        Raises:
            ValueError: A value it cannot take, in one line that names the
                variable and never shows a password.
        """
        env = os.environ if environ is None else environ
        url = str(env_value(env, "LEDGER_SMTP_URL", "", url_schemes=("smtp", "smtps")))
        if url and not urlsplit(url).hostname:
            scheme = urlsplit(url).scheme
            msg = f"LEDGER_SMTP_URL must name the relay's host, not '{scheme}://…'"
            raise ValueError(msg)
        ca_file = str(env_value(env, "LEDGER_SMTP_CA_FILE", ""))
        if ca_file and not Path(ca_file).is_file():
            msg = f"LEDGER_SMTP_CA_FILE names no file: {ca_file!r}"
            raise ValueError(msg)
        given = str(env_value(env, "LEDGER_MAIL_FROM", ""))
        mail_from = ""
        if given:
            name, address = parseaddr(given)
            if "@" not in address:
                msg = f"LEDGER_MAIL_FROM must be an email address, not {given!r}"
                raise ValueError(msg)
            mail_from = formataddr((name, address))
        return cls(smtp_url=url, ca_file=ca_file, mail_from=mail_from)

    def open_transport(self, home: Path) -> Transport:
        """The relay, or the folder ``home/outbox`` without one."""
        if not self.smtp_url:
            return FolderTransport(home / OUTBOX)
        context = ssl.create_default_context(cafile=self.ca_file or None)
        return SmtpTransport(self.smtp_url, tls_context=context)
