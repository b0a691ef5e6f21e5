"""The editorial pages in a real browser, with JavaScript off, against `ledger serve`.

Debian's Chromium signs in as an editor, registers a tool, signs out; signs
in as a reviewer and reviews it, the tool's card and verdict history
changing; then signs in as the editor again and retires it. JavaScript is
disabled in the browser context, so every step is a plain form post and a
redirect: the pages need no script.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.helpers import issue_tokens
from tests.pages.helpers import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)


def sign_in(page: Page, server: str, token: str) -> None:
    """From the header's Editor link, through the sign-in form, to the home."""
    page.goto(server + "/")
    page.locator("[data-editor-link]").click()
    expect(page).to_have_url(server + "/editor/sign-in?next=/editor")
    page.fill("#f-token", token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server + "/editor")
    expect(page.locator("[data-signed-in]")).to_be_visible()


def sign_out(page: Page, server: str) -> None:
    page.goto(server + "/editor")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(server + "/")
    page.goto(server + "/editor")
    expect(page).to_have_url(server + "/editor/sign-in?next=/editor")


def test_edit_review_and_retire_without_javascript(
    server: str, browser: Browser, demo_home: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tokens = issue_tokens(demo_home)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    failures: list[str] = []
    page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )

    # An editor registers a tool; a slug typed wrong is refused beside it first.
    sign_in(page, server, tokens["editor"])
    page.get_by_role("link", name="Register a tool").click()
    page.fill("#f-slug", "Quill 9")
    page.fill("#f-name", "Quill 9")
    page.fill("#f-vendor", "Inkworks")
    page.fill("#f-category", "Code assistant")
    page.fill("#f-description", "A code model tuned for tests.")
    page.get_by_role("button", name="Register").click()
    expect(page.locator('[data-error="slug"]')).to_contain_text("lowercase")
    expect(page.locator("#f-vendor")).to_have_value("Inkworks")
    page.screenshot(path=ARTIFACTS / "editor-refused.png", full_page=True)
    failures.clear()  # the refusal above is a 422, as it should be
    page.fill("#f-slug", "quill-9")
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(server + "/tools/quill-9")
    expect(page.locator("h1")).to_have_text("Quill 9")
    expect(page.locator(".reviews")).to_contain_text("No reviewer has given")
    sign_out(page, server)

    # A reviewer reviews it: the card's panel figure and the history change.
    sign_in(page, server, tokens["builder"])
    page.goto(server + "/tools/quill-9")
    page.locator("[data-editorial]").get_by_role("link", name="Review").click()
    expect(page).to_have_url(server + "/editor/tools/quill-9/review")
    page.select_option("#f-verdict", "ship")
    page.fill("#f-rationale", "Writes the tests I would have skipped.")
    page.get_by_role("button", name="Save the review").click()
    expect(page).to_have_url(server + "/tools/quill-9")
    card = page.locator('article[aria-labelledby="card-quill-9"]')
    expect(card.locator(".figure").first).to_contain_text("100%")
    expect(page.locator(".reviews")).to_contain_text("Writes the tests I would")
    expect(page.locator("#history")).to_contain_text("reviewer:builder")
    page.screenshot(path=ARTIFACTS / "editor-reviewed.png", full_page=True)
    sign_out(page, server)

    # The editor retires it, saying why; the page says it is retired.
    sign_in(page, server, tokens["editor"])
    page.goto(server + "/tools/quill-9")
    page.locator("[data-editorial]").get_by_role("link", name="Retire").click()
    page.fill("#f-reason", "Discontinued by its vendor")
    page.get_by_role("button", name="Retire the tool").click()
    expect(page).to_have_url(server + "/tools/quill-9")
    expect(page.locator('article[aria-labelledby="card-quill-9"]')).to_contain_text(
        "Retired"
    )
    expect(page.locator("[data-editorial]")).not_to_contain_text("Review")
    page.screenshot(path=ARTIFACTS / "editor-retired.png", full_page=True)
    sign_out(page, server)
    assert failures == []
    context.close()
