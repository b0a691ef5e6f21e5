"""``ledger digest --send`` against a real SMTP server (aiosmtpd) run in the test.

Subscribers are made through the ledger's own commands on a demo ledger (on
each event store); the command runs in process, as the ``ledger`` CLI runs
it. What the server received is what is checked: one mail per active
subscriber and week, its headers and parts, and its unsubscribe link
working against the app.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient

from api import create_app
from api.delivery_journal import Journal, journal_path
from api.digest_cli import digest_group
from api.subscriber_links import SubscriberLinks
from ledger.application import Ledger
from ledger.context import Context
from ledger.weeks import Week
from tests.api.helpers import free_port, ledger_settings, settings_for

CTX = Context(actor="operator:test", request_id="test")
WEEK = Week.containing(datetime.datetime.now(datetime.UTC))
FROM = "Weekly Verdicts <digest@verdicts.example>"
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LEDGER = str(Path(sys.executable).with_name("ledger"))


class Relay:
    """An aiosmtpd handler that keeps every mail it accepts.

    Args:
        refuse: Addresses answered ``550`` at ``RCPT``.
        unavailable_at: The DATA (counted from 1) answered ``421`` instead.
        lost_at: The DATA accepted, but whose answer never reaches the client.
    """

    def __init__(
        self,
        refuse: frozenset[str] = frozenset(),
        unavailable_at: int = 0,
        lost_at: int = 0,
    ) -> None:
        self.refuse = refuse
        self.unavailable_at = unavailable_at
        self.lost_at = lost_at
        self.datas = 0
        self.envelopes: list[Any] = []
        self.asked: list[str] = []
        self.logins: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.asked.append(address)
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        if self.datas == self.unavailable_at:
            return "421 4.3.2 try again later"
        self.envelopes.append(envelope)
        if session.authenticated:
            self.logins.append(session.auth_data.login.decode())
        if self.datas == self.lost_at:
            server.transport.abort()
        return "250 2.0.0 accepted"

    @property
    def messages(self) -> list[EmailMessage]:
        found = []
        for envelope in self.envelopes:
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def received(self) -> dict[str, int]:
        """How many mails each address received."""
        counts: dict[str, int] = {}
        for envelope in self.envelopes:
            for address in envelope.rcpt_tos:
                counts[address] = counts.get(address, 0) + 1
        return counts


@contextmanager
def relay_on(handler: Relay, **options: Any) -> Iterator[int]:
    """Runs ``handler`` on a free loopback port; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def ledger(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("LEDGER_HOME", str(home))
    monkeypatch.setenv("LEDGER_MAIL_FROM", FROM)
    monkeypatch.delenv("LEDGER_SMTP_URL", raising=False)
    monkeypatch.delenv("LEDGER_PUBLIC_URL", raising=False)
    opened = Ledger(ledger_settings(home))
    yield opened
    opened.close()


def subscribed(ledger: Ledger, *addresses: str, confirm: bool = True) -> list[UUID]:
    found = []
    for address in addresses:
        subscription = ledger.subscribe(CTX, address).subscription_id
        if confirm:
            ledger.confirm_subscription(CTX, subscription)
        found.append(subscription)
    return found


def digest(*args: str, week: Week = WEEK) -> Result:
    """``ledger digest --week W ARGS`` in this process."""
    return CliRunner().invoke(
        digest_group, ["--week", week.label, *args], catch_exceptions=False
    )


def sent_in_journal(home: Path) -> dict[str, int]:
    """The send journal's rows of this week, counted by status."""
    journal = Journal(journal_path(home))
    try:
        return journal.counts(WEEK.label)
    finally:
        journal.close()


def use_relay(monkeypatch: pytest.MonkeyPatch, port: int, query: str = "") -> None:
    monkeypatch.setenv("LEDGER_SMTP_URL", f"smtp://127.0.0.1:{port}{query}")


ACTIVE = tuple(f"reader{n}@example.org" for n in range(4))


def test_every_active_subscriber_gets_one_digest_and_a_rerun_none(
    home: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = dict(zip(ACTIVE, subscribed(ledger, *ACTIVE), strict=True))
    subscribed(ledger, "pending@example.org", confirm=False)
    [left] = subscribed(ledger, "left@example.org")
    ledger.unsubscribe(CTX, left)
    [paused] = subscribed(ledger, "paused@example.org")
    for week in ("2026-W01", "2026-W02", "2026-W03"):
        ledger.record_delivery_failure(CTX, paused, week, "550 gone")
    assert ledger.subscription(paused)["status"] == "paused"
    subscribed(ledger, "erased@example.org")
    ledger.erase(CTX, ledger.person_named("erased@example.org"), "asked to be")
    relay = Relay()
    with relay_on(relay) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        first = digest("--send")
        assert first.exit_code == 0, first.output
        assert f"digest {WEEK.label}: 4 sent, 0 skipped, 0 failed, 0 uncertain" in (
            first.output
        )
        assert relay.received() == dict.fromkeys(ACTIVE, 1)
        again = digest("--send")
        assert again.exit_code == 0, again.output
        assert "0 sent, 4 skipped, 0 failed, 0 uncertain" in again.output
    assert relay.received() == dict.fromkeys(ACTIVE, 1)
    assert all(e.mail_from == "digest@verdicts.example" for e in relay.envelopes)

    links = SubscriberLinks(ledger.settings.server_secret(), "http://127.0.0.1:8000")
    unsubscribe: dict[str, str] = {}
    for message in relay.messages:
        address = message["To"]
        subscription = active[address]
        assert message["From"] == FROM
        assert WEEK.label in message["Subject"]
        assert message["Subject"].startswith("Verdict Ledger weekly digest")
        assert message["Message-ID"] == (
            f"<digest.{WEEK.label}.{subscription.hex}@verdicts.example>"
        )
        assert message["List-Unsubscribe-Post"] == ONE_CLICK
        url = message["List-Unsubscribe"].removeprefix("<").removesuffix(">")
        assert url.startswith("http://127.0.0.1:8000/subscriptions/unsubscribe?token=")
        assert links.unsubscribing(urlsplit(url).query.removeprefix("token=")) == (
            subscription
        )
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        plain, rich = text.get_content(), html.get_content()  # type: ignore[attr-defined]
        assert f"Week {WEEK.label}" in plain
        assert f"Unsubscribe: {url}" in plain
        assert f'href="{url}"' in rich
        assert "/compare/" in plain
        assert "/compare/" in rich
        unsubscribe[address] = url
    assert sent_in_journal(home) == {"sent": 4}

    # The link unsubscribes with one click, as a mail provider posts it.
    leaving = ACTIVE[0]
    parts = urlsplit(unsubscribe[leaving])
    with TestClient(app=create_app(settings_for(home))) as client:
        gone = client.post(
            f"{parts.path}?{parts.query}", content=ONE_CLICK, headers=FORM
        )
    assert gone.status_code == 200, gone.text
    assert ledger.subscription(active[leaving])["status"] == "unsubscribed"


def test_a_send_the_relay_stops_resumes_without_mailing_anyone_twice(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = tuple(f"reader{n}@example.org" for n in range(9))
    subscribed(ledger, *addresses)
    relay = Relay(unavailable_at=4)
    with relay_on(relay) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        stopped = digest("--send")  # over four connections at once
        assert stopped.exit_code == 1
        assert "0 failed, 0 uncertain" in stopped.output
        assert "421 4.3.2 try again later" in stopped.output
        first = sum(relay.received().values())
        assert 3 <= first < len(addresses)
        assert f"{first} sent, 0 skipped" in stopped.output
        resumed = digest("--send")
        assert resumed.exit_code == 0, resumed.output
        rest = len(addresses) - first
        assert f"{rest} sent, {first} skipped, 0 failed, 0 uncertain" in (
            resumed.output
        )
    assert relay.received() == dict.fromkeys(addresses, 1)


def test_a_mail_whose_answer_was_lost_is_uncertain_and_not_sent_again(
    home: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = tuple(f"reader{n}@example.org" for n in range(5))
    subscribed(ledger, *addresses)
    relay = Relay(lost_at=2)
    with relay_on(relay) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        stopped = digest("--send", "--connections", "1")
        assert stopped.exit_code == 1
        assert "1 sent, 0 skipped, 0 failed, 1 uncertain" in stopped.output
        resumed = digest("--send", "--connections", "1")
        assert resumed.exit_code == 0, resumed.output
        assert "3 sent, 1 skipped, 0 failed, 1 uncertain" in resumed.output
        assert "--resend-uncertain" in resumed.output
        # The server took the mail whose answer was lost: nobody got two.
        assert relay.received() == dict.fromkeys(addresses, 1)
        assert sent_in_journal(home) == {
            "sent": 4,
            "sending": 1,
        }
        # Sending the uncertain one again is the operator's call, and does.
        again = digest("--send", "--resend-uncertain")
        assert again.exit_code == 0, again.output
        assert "1 sent, 4 skipped, 0 failed, 0 uncertain" in again.output
    assert sorted(relay.received().values()) == [1, 1, 1, 1, 2]
    assert sent_in_journal(home) == {"sent": 5}


def test_a_refused_address_is_recorded_and_paused_after_three_weeks(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = ("reader0@example.org", "reader1@example.org")
    bad = "nobody@example.org"
    subscribed(ledger, *good)
    [refused] = subscribed(ledger, bad)
    weeks = [WEEK.previous().previous().previous(), *_weeks_after(3)]
    relay = Relay(refuse=frozenset({bad}))
    with relay_on(relay) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        for number, week in enumerate(weeks[:3], start=1):
            sent = digest("--send", week=week)
            assert sent.exit_code == 0, sent.output
            assert "2 sent, 0 skipped, 1 failed, 0 uncertain" in sent.output
            assert ledger.subscription(refused)["failures"] == number
        assert ledger.subscription(refused)["status"] == "paused"
        fourth = digest("--send", week=weeks[3])
        assert "2 sent, 0 skipped, 0 failed, 0 uncertain" in fourth.output
    assert relay.received() == dict.fromkeys(good, 4)
    assert relay.asked.count(bad) == 3
    failures = [
        event.data
        for event in ledger_events(ledger)
        if event.type == "Subscription.DeliveryFailed"
    ]
    assert [f["week"] for f in failures] == [w.label for w in weeks[:3]]
    assert all("550 5.1.1 no such mailbox here" in f["detail"] for f in failures)


def _weeks_after(count: int) -> list[Week]:
    """The ``count`` weeks up to this one, oldest first."""
    found = [WEEK]
    while len(found) < count:
        found.insert(0, found[0].previous())
    return found


def ledger_events(ledger: Ledger) -> list[Any]:
    from ledger import log

    return log.read(ledger.recorder, after=0, limit=10_000)


def test_a_bounce_reported_later_counts_as_a_failed_delivery(
    ledger: Ledger,
) -> None:
    [subscription] = subscribed(ledger, "reader0@example.org")
    runner = CliRunner()
    for number in (1, 2, 3):
        done = runner.invoke(
            digest_group,
            [
                "bounce",
                "Reader0@example.org",
                "--week",
                WEEK.label,
                "--detail",
                f"550 mailbox gone ({number})",
            ],
        )
        assert done.exit_code == 0, done.output
        assert f"{number} failure(s)" in done.output
    assert ledger.subscription(subscription)["status"] == "paused"
    refused = runner.invoke(
        digest_group, ["bounce", "someone", "--week", WEEK.label, "--detail", "x"]
    )
    assert refused.exit_code == 2
    assert "neither an address nor a subscription id" in refused.output


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _authenticator(*args: Any) -> AuthResult:
    """Takes aiosmtpd's (server, session, envelope, mechanism, data)."""
    data = args[-1]
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"ledger",
        b"s3cret pass",
    )
    return AuthResult(success=good, auth_data=data if good else None)


def test_starttls_and_auth_with_the_relay_certificate_trusted(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribed(ledger, *ACTIVE[:2])
    cert_file, key_file = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    relay = Relay()
    options = {
        "tls_context": server_tls,
        "require_starttls": True,
        "authenticator": _authenticator,
        "auth_require_tls": True,
    }
    with relay_on(relay, **options) as port:
        monkeypatch.setenv(
            "LEDGER_SMTP_URL", f"smtp://ledger:s3cret%20pass@127.0.0.1:{port}"
        )
        # Not trusted: the certificate is checked, nothing is handed over.
        untrusted = digest("--send")
        assert untrusted.exit_code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output
        assert "0 sent, 0 skipped, 0 failed, 0 uncertain" in untrusted.output
        monkeypatch.setenv("LEDGER_SMTP_CA_FILE", str(cert_file))
        sent = digest("--send")
        assert sent.exit_code == 0, sent.output
        assert "2 sent, 0 skipped" in sent.output
    assert relay.received() == dict.fromkeys(ACTIVE[:2], 1)
    assert relay.logins == ["ledger", "ledger"]


def test_without_a_relay_the_mails_go_to_the_outbox(home: Path, ledger: Ledger) -> None:
    subscriptions = subscribed(ledger, *ACTIVE[:3])
    printed = digest()
    assert printed.exit_code == 0
    assert printed.output.startswith("Verdict Ledger weekly digest\n")
    assert "Unsubscribe" not in printed.output
    assert not (home / "outbox").exists()
    sent = digest("--send")
    assert sent.exit_code == 0, sent.output
    assert "3 sent" in sent.output
    files = sorted((home / "outbox").glob("*.eml"))
    assert [f.name for f in files] == sorted(
        f"digest.{WEEK.label}.{s.hex}@verdicts.example.eml" for s in subscriptions
    )
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] in ACTIVE
    assert message.get_content_type() == "multipart/alternative"
    assert digest("--send").output.count("3 skipped") == 1
    assert len(list((home / "outbox").glob("*.eml"))) == 3


class SlowRelay(Relay):
    """Takes a tenth of a second over each mail, so a send can be stopped midway."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.1)
        return await super().handle_DATA(server, session, envelope)


def test_a_send_stopped_by_sigterm_settles_and_resumes_exactly_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = tuple(f"reader{n}@example.org" for n in range(30))
    subscribed(ledger, *addresses)
    relay = SlowRelay()
    with relay_on(relay) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        command = [LEDGER, "digest", "--week", WEEK.label, "--send"]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(relay.envelopes) < 4:
            assert time.monotonic() < deadline, "no mail arrived"
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        out, errors = process.communicate(timeout=60)
        assert process.returncode == 130, errors
        assert "interrupted" in errors
        first = len(relay.envelopes)
        assert first < len(addresses)
        assert f"{first} sent" not in out  # no summary: it was stopped
        resumed = digest("--send", "--connections", "8")
        assert resumed.exit_code == 0, resumed.output
        rest = len(addresses) - first
        assert f"{rest} sent, {first} skipped, 0 failed, 0 uncertain" in (
            resumed.output
        )
    assert relay.received() == dict.fromkeys(addresses, 1)


def test_an_address_beyond_ascii_goes_where_the_relay_takes_smtputf8(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, wide = "plain@example.org", "jöe@exämple.org"
    [_, international] = subscribed(ledger, plain, wide)
    relay = Relay()
    with relay_on(relay, enable_SMTPUTF8=True) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        sent = digest("--send")
        assert "2 sent, 0 skipped, 0 failed" in sent.output
    assert relay.received() == {plain: 1, wide: 1}
    [message] = [m for m in relay.messages if m["To"] == wide]
    assert message.get_content_type() == "multipart/alternative"
    # A relay without SMTPUTF8 cannot take it: a failed delivery, the rest go.
    older = Relay()
    with relay_on(older, enable_SMTPUTF8=False) as port:
        use_relay(monkeypatch, port, "?starttls=0")
        refused = digest("--send", week=WEEK.previous())
        assert refused.exit_code == 0, refused.output
        assert "1 sent, 0 skipped, 1 failed, 0 uncertain" in refused.output
    assert older.received() == {plain: 1}
    assert ledger.subscription(international)["failures"] == 1
