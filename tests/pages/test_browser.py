"""The comparison page in a real browser against a real `ledger serve`.

Debian's Chromium drives the page end to end: the figures the server printed,
a vote through the page's own script and the JSON API, the Community figure
updating in place, and the layout on a desktop and a phone. Screenshots go to
artifacts/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.pages.helpers import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
COMPARE = "/compare/code-llama-4/mistral-medium-3"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)


def test_vote_updates_community_in_place(server: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" else None,
    )
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )

    page.goto(server + COMPARE)
    llama = page.locator('article[aria-labelledby="card-code-llama-4"]')
    mistral = page.locator('article[aria-labelledby="card-mistral-medium-3"]')
    expect(llama.locator(".figure").first).to_contain_text("100%")
    expect(mistral.locator(".figure").first).to_contain_text("75%")
    community = llama.locator("[data-community] [data-share]")
    expect(community).to_have_text("—")
    provisional = llama.locator("[data-community] [data-provisional]")
    expect(provisional).to_be_hidden()
    # The panel's four verdicts are too few to go by: marked provisional.
    expect(llama.locator(".figure").first.locator("[data-provisional]")).to_be_visible()
    # Side by side on a desktop.
    left, right = llama.bounding_box(), mistral.bounding_box()
    assert left
    assert right
    assert abs(left["y"] - right["y"]) < 1
    assert right["x"] > left["x"] + left["width"]
    page.screenshot(path=ARTIFACTS / "compare-desktop.png", full_page=True)

    ship = page.locator('button[data-tool="code-llama-4"][data-choice="ship"]')
    expect(ship).to_be_enabled()
    ship.click()
    expect(community).to_have_text("100%")
    expect(llama.locator("[data-community] [data-count]")).to_have_text("1 vote")
    expect(llama.locator("[data-community] [data-spread]")).to_have_text("21\u2013100%")
    expect(provisional).to_be_visible()
    expect(ship).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#vote-status")).to_contain_text(
        "You voted ship on Code Llama 4"
    )
    expect(page.locator('[data-tally="code-llama-4"]')).to_have_text("1 ship · 0 skip")

    pick = page.locator('button[data-pick="mistral-medium-3"]')
    expect(page.locator("[data-h2h-provisional]")).to_be_hidden()
    pick.click()
    expect(page.locator('[data-h2h="b"]')).to_have_text("1 pick")
    expect(page.locator("[data-h2h-provisional]")).to_be_visible()
    expect(pick).to_have_attribute("aria-pressed", "true")

    # The server saw it too: a fresh load prints the figures and the browser
    # remembers its own votes.
    page.reload()
    expect(community).to_have_text("100%")
    expect(ship).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=ARTIFACTS / "compare-desktop-voted.png", full_page=True)

    # Pressing the same choice again takes the vote back.
    ship.click()
    expect(community).to_have_text("—")
    expect(provisional).to_be_hidden()
    expect(ship).to_have_attribute("aria-pressed", "false")
    assert problems == []
    context.close()


def test_pages_read_on_a_phone(server: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.goto(server + COMPARE)
    llama = page.locator('article[aria-labelledby="card-code-llama-4"]').bounding_box()
    mistral = page.locator(
        'article[aria-labelledby="card-mistral-medium-3"]'
    ).bounding_box()
    assert llama
    assert mistral
    assert mistral["y"] >= llama["y"] + llama["height"], "cards stack on a phone"
    assert llama["width"] <= 390
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing forces sideways scrolling"
    page.screenshot(path=ARTIFACTS / "compare-phone.png", full_page=True)

    page.goto(server + "/tools/mistral-medium-3")
    assert page.locator("svg[role=img]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "tool-phone.png", full_page=True)
    context.close()

    desktop = browser.new_page(viewport={"width": 1280, "height": 900})
    desktop.goto(server + "/tools/mistral-medium-3")
    desktop.screenshot(path=ARTIFACTS / "tool-desktop.png", full_page=True)
    desktop.goto(server + "/")
    desktop.screenshot(path=ARTIFACTS / "index-desktop.png", full_page=True)
    desktop.close()
