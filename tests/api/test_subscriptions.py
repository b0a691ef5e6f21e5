"""Subscribing to the weekly digest over HTTP, against a real SMTP server.

The app runs in process on a demo ledger (on each event store); its mails go
to aiosmtpd on a loopback port, or to the outbox folder when no relay is
set. What arrives is read as a subscriber would: the headers, the link.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from api.subscriber_links import CONFIRM_SECONDS, SubscriberLinks
from api.subscribing import ASKED, MAILS_PER_SUBSCRIPTION
from ledger.application import Ledger
from ledger.mail_transport import MailSettings
from tests.api.helpers import PROBLEM_JSON, free_port, problem, settings_for
from tests.api.mailbox import Mailbox, links_in, smtp_server, text_of
from tests.stores import Store

ADDRESS = "Reader.Seven@Example.org"
NORMAL = "Reader.Seven@example.org"
PER_CLIENT = 8
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ONE_CLICK = "List-Unsubscribe=One-Click"
CROSS_SITE = {"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"}


class Site:
    """The app over a demo ledger, and what it has mailed."""

    def __init__(self, client: TestClient[Litestar], home: Path) -> None:
        self.client = client
        self.home = home

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.client.app.state.ledger
        return ledger

    def head(self) -> int:
        return self.ledger.head_position()

    def status(self, address: str = ADDRESS) -> str:
        found = self.ledger.subscription(self.ledger.subscription_id(address))
        return str(found["status"])

    def subscribe(self, address: str = ADDRESS) -> httpx.Response:
        return self.client.post("/api/subscriptions", json={"address": address})

    def links(self) -> SubscriberLinks:
        settings = self.client.app.state.settings
        return SubscriberLinks(settings.ledger.server_secret(), settings.site_url)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def site(home: Path, mailbox: Mailbox) -> Iterator[Site]:
    """The app over the demo ledger, mailing through ``mailbox``."""
    settings = settings_for(
        home, subscribe_per_window=PER_CLIENT, mail=MailSettings(smtp_url=mailbox.url)
    )
    with TestClient(app=create_app(settings)) as client:
        yield Site(client, home)


def local(url: str) -> str:
    """A mailed link's path and query, to request from the test client."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8000"
    return f"{parts.path}?{parts.query}"


def token_of(url: str) -> str:
    return urlsplit(url).query.removeprefix("token=")


def log_bytes(event_store: Store) -> bytes:
    """Everything the log holds as stored: the SQLite files, or PostgreSQL's rows."""
    if event_store.name == "sqlite":
        path = event_store.settings.events_path
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    return b"".join(
        bytes(row[3]) + str(row[0]).encode() for row in event_store.stored_rows()
    )


def check_confirmation(message: EmailMessage) -> tuple[str, str]:
    """Checks a confirmation mail; returns its confirm and unsubscribe links."""
    assert message["To"] == NORMAL
    assert message["From"] == "Verdict Ledger <verdicts@localhost>"
    assert message["Subject"] == "Confirm your subscription to Weekly AI Tool Verdicts"
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    confirm, unsubscribe = links_in(message)
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert "/subscriptions/confirm?token=" in confirm
    assert message.get_body(preferencelist=("html",)) is not None
    assert "works for 3 days" in text_of(message)
    return confirm, unsubscribe


def test_subscribe_confirm_and_unsubscribe_by_mail(
    site: Site, mailbox: Mailbox, event_store: Store
) -> None:
    head = site.head()
    answer = site.subscribe()
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"detail": ASKED}
    assert site.head() == head + 1
    assert site.status() == "pending"
    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == [NORMAL]
    confirm, unsubscribe = check_confirmation(mailbox.messages[0])

    # A scanner fetching the link confirms nothing.
    page = site.client.get(local(confirm))
    assert page.status_code == 200
    assert 'action="/subscriptions/confirm"' in page.text
    assert token_of(confirm) in page.text
    assert site.status() == "pending"
    assert site.head() == head + 1

    done = site.client.post(
        "/subscriptions/confirm", data={"token": token_of(confirm)}, headers=FORM
    )
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    assert site.status() == "active"
    assert site.head() == head + 2

    # The unsubscribe link's page has a button; only its POST unsubscribes.
    shown = site.client.get(local(unsubscribe))
    assert shown.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in shown.text
    assert site.status() == "active"
    # RFC 8058: the mail provider posts, with no cookie and from no page.
    for _ in range(2):
        gone = site.client.post(
            local(unsubscribe), content=ONE_CLICK, headers={**FORM, **CROSS_SITE}
        )
        assert gone.status_code == 200
        assert "You are unsubscribed" in gone.text
        assert site.status() == "unsubscribed"
    assert site.head() == head + 3
    # The read models follow the log past the subscriber's events.
    read = site.client.get("/api/tools", params={"min_position": site.head()})
    assert read.status_code == 200, read.text

    stored = log_bytes(event_store).lower()
    assert stored
    assert b"reader.seven" not in stored
    assert b"example.org" not in stored


def test_the_json_routes_confirm_and_unsubscribe(site: Site, mailbox: Mailbox) -> None:
    site.subscribe()
    confirm, unsubscribe = links_in(mailbox.messages[0])
    path = "/api/subscriptions"
    for _ in range(2):
        done = site.client.post(f"{path}/confirm", json={"token": token_of(confirm)})
        assert done.status_code == 200
        assert done.json() == {"status": "active"}
    gone = site.client.post(
        f"{path}/unsubscribe", json={"token": token_of(unsubscribe)}
    )
    assert gone.json() == {"status": "unsubscribed"}
    # A confirmation link mailed before the unsubscribe cannot bring it back.
    late = site.client.post(f"{path}/confirm", json={"token": token_of(confirm)})
    problem(late, 409)
    assert site.status() == "unsubscribed"


def test_the_answer_never_tells_the_address_state(site: Site, mailbox: Mailbox) -> None:
    first = site.subscribe()
    again = site.subscribe()  # pending: mailed again, nothing appended
    assert first.json() == again.json() == {"detail": ASKED}
    assert len(mailbox.envelopes) == 2
    confirm = links_in(mailbox.messages[0])[0]
    site.client.post("/api/subscriptions/confirm", json={"token": token_of(confirm)})
    head = site.head()
    subscribed = site.subscribe()
    assert subscribed.status_code == 202
    assert subscribed.json() == {"detail": ASKED}
    assert len(mailbox.envelopes) == 2  # no mail to an active subscription
    assert site.head() == head
    assert site.status() == "active"


def test_an_address_the_relay_refuses_gets_the_same_answer(
    site: Site, mailbox: Mailbox
) -> None:
    mailbox.refused.add(NORMAL)
    head = site.head()
    answer = site.subscribe()
    assert answer.status_code == 202
    assert answer.json() == {"detail": ASKED}
    assert mailbox.envelopes == []
    assert site.head() == head + 1
    assert site.status() == "pending"


def test_a_bad_address_is_refused_and_nothing_recorded(
    site: Site, mailbox: Mailbox
) -> None:
    head = site.head()
    body = problem(site.subscribe("not an address"), 422)
    assert body["type"] == "/problems/invalid-address"
    problem(site.subscribe("a@" + "b" * 300 + ".org"), 422)
    problem(
        site.client.post("/api/subscriptions", json={"address": ADDRESS, "x": 1}), 422
    )
    problem(site.client.post("/api/subscriptions", json={}), 422)
    page = site.client.post("/subscriptions", data={"address": "nobody@"}, headers=FORM)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "not an email address" in page.text
    assert site.head() == head
    assert mailbox.envelopes == []


def altered(token: str) -> str:
    """``token`` with one character of its signed part changed.

    Not the last character: base64's padding bits make some of its changes
    decode to the same bytes.
    """
    changed = "A" if token[10] != "A" else "B"
    return token[:10] + changed + token[11:]


def _expired_token(site: Site, subscription_id: UUID) -> str:
    """A confirmation token signed (rightly) longer ago than links last."""

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - CONFIRM_SECONDS - 60

    secret = site.client.app.state.settings.ledger.server_secret()
    old = URLSafeTimedSerializer(secret, salt="subscription-confirm", signer=Past)
    return str(old.dumps(str(subscription_id)))


def test_bad_altered_and_expired_links_are_refused(
    site: Site, mailbox: Mailbox
) -> None:
    site.subscribe()
    confirm, unsubscribe = links_in(mailbox.messages[0])
    token = token_of(confirm)
    subscription_id = site.ledger.subscription_id(ADDRESS)
    foreign = SubscriberLinks(b"another secret" * 4, "http://127.0.0.1:8000")
    refused = {
        "altered": altered(token),
        "foreign": foreign.confirm_token(subscription_id),
        "unsubscribe token": token_of(unsubscribe),
        "expired": _expired_token(site, subscription_id),
        "garbage": "x" * 500,
    }
    head = site.head()
    for name, bad in refused.items():
        body = problem(
            site.client.post("/api/subscriptions/confirm", json={"token": bad[:200]}),
            422,
        )
        if name == "expired":
            assert "expired" in body["detail"]
        page = site.client.get("/subscriptions/confirm", params={"token": bad})
        assert page.status_code == 422, name
        assert "This link does not work" in page.text
        posted = site.client.post(
            "/subscriptions/confirm", data={"token": bad}, headers=FORM
        )
        assert posted.status_code == 422, name
    # A confirm token does not unsubscribe, nor an altered unsubscribe token.
    for bad in (token, altered(token_of(unsubscribe))):
        gone = site.client.post(
            f"/subscriptions/unsubscribe?token={bad}", content=ONE_CLICK, headers=FORM
        )
        assert gone.status_code == 422, (bad, gone.text[:1500])
    missing = site.client.post(
        "/subscriptions/unsubscribe", content=ONE_CLICK, headers=FORM
    )
    assert missing.status_code == 422
    assert site.head() == head
    assert site.status() == "pending"


def test_subscribing_is_rate_limited(site: Site, mailbox: Mailbox) -> None:
    for _ in range(MAILS_PER_SUBSCRIPTION + 2):
        assert site.subscribe().status_code == 202
    # One address gets a bounded number of mails, however often it is asked for.
    assert len(mailbox.envelopes) == MAILS_PER_SUBSCRIPTION
    for n in range(PER_CLIENT - MAILS_PER_SUBSCRIPTION - 2):
        assert site.subscribe(f"other{n}@example.net").status_code == 202
    head = site.head()
    body = problem(site.subscribe("late@example.net"), 429)
    assert body["type"] == "/problems/too-many-subscription-requests"
    assert int(site.subscribe("late@example.net").headers["Retry-After"]) >= 1
    page = site.client.post(
        "/subscriptions", data={"address": "late@example.net"}, headers=FORM
    )
    assert page.status_code == 429
    assert page.headers["Retry-After"]
    assert site.head() == head


def test_a_relay_that_is_down_answers_503_and_keeps_the_request(home: Path) -> None:
    port = free_port()
    relay = MailSettings(smtp_url=f"smtp://127.0.0.1:{port}?starttls=0")
    with TestClient(app=create_app(settings_for(home, mail=relay))) as client:
        site = Site(client, home)
        head = site.head()
        body = problem(site.subscribe(), 503)
        assert body["type"] == "/problems/mail-unavailable"
        assert site.head() == head + 1
        assert site.status() == "pending"
        with smtp_server(port) as mailbox:  # the relay is back
            retried = site.subscribe()
            assert retried.status_code == 202
            assert retried.headers["content-type"] != PROBLEM_JSON
            assert site.head() == head + 1
            [message] = mailbox.messages
            check_confirmation(message)


def test_without_a_relay_the_mail_waits_in_the_outbox(home: Path) -> None:
    with TestClient(app=create_app(settings_for(home))) as client:
        site = Site(client, home)
        answer = client.post("/subscriptions", data={"address": ADDRESS}, headers=FORM)
        assert answer.status_code == 200
        assert "Check your inbox" in answer.text
        [path] = (home / "outbox").glob("*.eml")
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        confirm, _ = check_confirmation(message)
        done = client.post(
            "/subscriptions/confirm", data={"token": token_of(confirm)}, headers=FORM
        )
        assert done.status_code == 200
        assert site.status() == "active"


def test_other_sites_cannot_post_the_subscribe_and_confirm_forms(
    site: Site, mailbox: Mailbox
) -> None:
    head = site.head()
    page = site.client.post(
        "/subscriptions", data={"address": ADDRESS}, headers={**FORM, **CROSS_SITE}
    )
    assert page.status_code == 403
    assert site.head() == head
    assert mailbox.envelopes == []
    site.subscribe()
    confirm = links_in(mailbox.messages[0])[0]
    refused = site.client.post(
        "/subscriptions/confirm",
        data={"token": token_of(confirm)},
        headers={**FORM, **CROSS_SITE},
    )
    assert refused.status_code == 403
    assert site.status() == "pending"
