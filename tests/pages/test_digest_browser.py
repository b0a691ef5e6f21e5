"""A week's digest page in Chromium, served by ``ledger serve``: links that lead on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ledger.application import Ledger
from tests.api.helpers import ledger_settings, served
from tests.digest_weeks import HOSTILE, store, three_weeks
from tests.pages.helpers import CHROMIUM
from tests.pages.test_content_security_policy import _violations, _watched

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """``ledger serve`` over the three weeks' log; yields its base URL."""
    home = tmp_path / "home"
    ledger = Ledger(ledger_settings(home))
    try:
        store(ledger, three_weeks())
    finally:
        ledger.close()
    with served(home) as base:
        yield base


def test_the_digest_page_links_each_item_to_its_page(
    site: str, browser: Browser
) -> None:
    page, reported = _watched(browser)
    page.goto(f"{site}/digests/2026-W48")
    expect(page.locator("h1")).to_have_text("Week 2026-W48: 23\u201329 November 2026")
    hostile = page.get_by_role("link", name=HOSTILE, exact=True).first
    expect(hostile).to_be_visible()
    assert _violations(page, reported) == []
    hostile.click()
    page.wait_for_url(f"{site}/tools/gamma")
    page.go_back()
    page.get_by_role("link", name="Week 2026-W47").click()
    page.wait_for_url(f"{site}/digests/2026-W47")
    expect(page.get_by_role("link", name="Alpha vs Beta")).to_have_attribute(
        "href", f"{site}/compare/alpha/beta"
    )
    assert _violations(page, reported) == []
    page.close()
