"""The index: every tool with its headline figures, and the comparisons."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.pages.helpers import Page


def test_index_lists_tools_and_comparisons(client: TestClient[Litestar]) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.text)
    cards = {node.attrs["aria-labelledby"]: node.text for node in page.tags("article")}
    assert set(cards) == {"card-code-llama-4", "card-mistral-medium-3"}
    assert "Panel ship 4 verdicts 51\u2013100% 100%" in cards["card-code-llama-4"]
    assert "Panel ship 4 verdicts 30\u201395% 75%" in cards["card-mistral-medium-3"]
    assert all("Community no votes yet —" in text for text in cards.values())
    assert all("Entry Free" in text for text in cards.values())
    [comparison] = page.find("href", "/compare/code-llama-4/mistral-medium-3")
    assert (
        comparison.text
        == "Code Llama 4 (70B & 400B) vs Mistral Medium 3 (72B Instruct)"
    )
    assert "Which one should you ship with?" in page.text
    feeds = page.find("type", "application/atom+xml", tag="link")
    assert feeds[0].attrs["href"] == "/feeds/verdicts.atom"
