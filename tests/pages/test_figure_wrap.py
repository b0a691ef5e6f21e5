"""Every share figure reads on one line, however narrow the screen.

A card's figures share its width in three columns, and on a desktop's grid of
cards a third of a card is narrower than "100%" at the figure's size; a figure
split over two lines ("100" then "%") reads as two numbers. Debian's Chromium
lays out the index, comparison and tool pages at the narrowest phones' widths
and at the desktop widths where cards are narrowest, and each ``[data-share]``
figure must take one line box and stay inside its card.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.pages.helpers import CHROMIUM

PAGES = ("/", "/compare/code-llama-4/mistral-medium-3", "/tools/code-llama-4")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(scripts/test installs it with apt-get)",
)

# For each figure: its text, how many line boxes its text takes, and whether
# it stays inside its card.
MEASURE = """
() => [...document.querySelectorAll("[data-share]")].map((figure) => {
  const range = document.createRange();
  range.selectNodeContents(figure);
  const tops = new Set(
    [...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))
  );
  const box = figure.getBoundingClientRect();
  const card = figure.closest(".card").getBoundingClientRect();
  return {
    text: figure.textContent.trim(),
    lines: tops.size,
    inside: box.left >= card.left - 0.5 && box.right <= card.right + 0.5,
  };
})
"""


def figures(page: Page) -> list[dict[str, object]]:
    measured: list[dict[str, object]] = page.evaluate(MEASURE)
    return measured


@pytest.mark.parametrize("width", [320, 360, 760, 1280])
def test_share_figures_never_wrap(server: str, browser: Browser, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        for path in PAGES:
            page.goto(server + path)
            measured = figures(page)
            assert measured, f"{path} shows no share figures"
            shown = {str(figure["text"]) for figure in measured}
            assert shown & {"100%", "75%"}, f"{path} shows {shown}"
            for figure in measured:
                assert figure["lines"] == 1, f"{path} at {width}px: {figure}"
                assert figure["inside"], f"{path} at {width}px: {figure}"
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} scrolls sideways at {width}px"
    finally:
        context.close()
