"""Subscribing from a tool page's footer in a real browser, mail and all.

Debian's Chromium fills the footer form of a tool page served by a real
``ledger serve``, whose confirmation mail goes to aiosmtpd in this process;
the browser then follows the mailed link, which shows a button and changes
nothing until it is pressed, and unsubscribes from the mailed unsubscribe
link. Chromium sends its own ``Origin`` and ``Sec-Fetch-Site`` headers, so
this is also the check that the site's own forms pass its cross-site guard
and its Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ledger.application import Ledger
from tests.api.helpers import ledger_settings, make_home, served
from tests.api.mailbox import Mailbox, links_in, smtp_server
from tests.pages.helpers import CHROMIUM

TOOL = "/tools/code-llama-4"
ADDRESS = "browser.reader@example.org"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def mailing_server(tmp_path: Path, mailbox: Mailbox) -> Iterator[tuple[str, Path]]:
    """``ledger serve`` over the demo ledger, mailing through ``mailbox``."""
    home = make_home(tmp_path)
    with served(home, env={"LEDGER_SMTP_URL": mailbox.url}) as base:
        yield base, home


def status_of(home: Path) -> str:
    """The subscription's status, read from the log by a ledger of its own."""
    ledger = Ledger(ledger_settings(home))
    try:
        return str(ledger.subscription(ledger.subscription_id(ADDRESS))["status"])
    finally:
        ledger.close()


def test_subscribe_from_a_tool_page(
    mailing_server: tuple[str, Path], mailbox: Mailbox, browser: Browser
) -> None:
    server, home = mailing_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security" in m.text else None,
    )
    page.goto(server + TOOL)
    form = page.locator("footer form[data-subscribe]")
    expect(form).to_contain_text("Weekly AI Tool Verdicts")
    form.get_by_label("Weekly AI Tool Verdicts").fill(ADDRESS)
    form.get_by_role("button", name="Subscribe").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")

    [message] = mailbox.wait_for(1)
    assert message["To"] == ADDRESS
    confirm, unsubscribe = links_in(message)
    assert confirm.startswith(server + "/subscriptions/confirm?token=")
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"

    page.goto(confirm)
    expect(page.locator("h1")).to_have_text("Confirm your subscription")
    assert status_of(home) == "pending"
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.locator("h1")).to_have_text("You are subscribed")
    assert status_of(home) == "active"

    page.goto(unsubscribe)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    assert status_of(home) == "unsubscribed"
    assert violations == []
    page.close()
