"""Every page under its Content-Security-Policy in Chromium, votes included.

The policy allows no inline script or style; a page that still had one
would lose it silently in a browser, so Chromium loads each page of a real
``ledger serve`` and the test fails on any ``securitypolicyviolation`` event
or CSP console message, then votes through the comparison page's script.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.pages.helpers import CHROMIUM

PAGES = [
    "/",
    "/tools/code-llama-4",
    "/tools/code-llama-4?since=1",
    "/tools/code-llama-4/provenance",
    "/compare/code-llama-4/mistral-medium-3",
    "/problems/tool-not-found",
    "/tools/no-such-tool",
    "/subscriptions/confirm?token=not-a-token",
    "/subscriptions/unsubscribe?token=not-a-token",
]
COMPARE = "/compare/code-llama-4/mistral-medium-3"
# Runs before any of the page's own code, in every document it loads.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)


def _watched(browser: Browser) -> tuple[Page, list[str]]:
    """A page that records CSP violations and CSP console messages."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    reported: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            reported.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: reported.append(str(error)))
    page.add_init_script(LISTEN)
    return page, reported


def _violations(page: Page, reported: list[str]) -> list[str]:
    return reported + list(page.evaluate("window.__violations"))


@pytest.mark.parametrize("path", PAGES)
def test_a_page_loads_without_a_policy_violation(
    server: str, browser: Browser, path: str
) -> None:
    page, reported = _watched(browser)
    answer = page.goto(server + path)
    assert answer is not None
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_load_state("load")
    # The stylesheet applied: the skip link is moved off screen by site.css.
    assert page.evaluate(
        "getComputedStyle(document.querySelector('.skip-link')).position"
    ) in ("absolute", "fixed")
    assert _violations(page, reported) == []
    page.close()


def test_votes_work_under_the_policy(server: str, browser: Browser) -> None:
    page, reported = _watched(browser)
    page.goto(server + COMPARE)
    llama = page.locator('article[aria-labelledby="card-code-llama-4"]')
    community = llama.locator("[data-community] [data-share]")
    expect(community).to_have_text("—")
    ship = page.locator('button[data-tool="code-llama-4"][data-choice="ship"]')
    expect(ship).to_be_enabled()
    ship.click()
    expect(community).to_have_text("100%")
    expect(ship).to_have_attribute("aria-pressed", "true")

    pick = page.locator('button[data-pick="mistral-medium-3"]')
    pick.click()
    expect(page.locator('[data-h2h="b"]')).to_have_text("1 pick")
    # The split bar is redrawn in picks, without an inline style.
    expect(page.locator('[data-h2h-bar="b"]')).to_have_attribute("width", "1")
    expect(page.locator("[data-h2h-split]")).to_have_attribute("viewBox", "0 0 1 1")
    bar = page.locator('[data-h2h-bar="b"]').bounding_box()
    whole = page.locator("[data-h2h-split]").bounding_box()
    assert bar
    assert whole
    assert abs(bar["width"] - whole["width"]) < 1
    assert _violations(page, reported) == []
    page.close()
