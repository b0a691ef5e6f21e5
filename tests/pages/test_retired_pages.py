"""Retired tools and comparisons: gone from the index, readable at their pages.

Each page of a retired one says since when (time and log position) and why.
"""

from __future__ import annotations

from datetime import datetime

from litestar import Litestar
from litestar.testing import TestClient

from ledger.context import Context
from tests.pages.helpers import Page, ledger_of

EDITOR = Context(actor="editor:t", request_id="page-test")
COMPARE = "/compare/code-llama-4/mistral-medium-3"


def listed(page: Page, slug: str) -> bool:
    """Whether the index shows ``slug``'s card."""
    return bool(page.find("aria-labelledby", f"card-{slug}", tag="article"))


def notice(page: Page) -> str:
    [text] = page.texts("data-retired")
    return text


def test_a_retired_tool_leaves_the_index_but_its_page_says_since_when_and_why(
    client: TestClient[Litestar],
) -> None:
    before = Page(client.get("/").text)
    assert listed(before, "mistral-medium-3")
    receipt = ledger_of(client).retire_tool(
        EDITOR, "mistral-medium-3", reason="Replaced by Mistral Medium 4"
    )
    index = Page(client.get(f"/?min_position={receipt.position}").text)
    assert not listed(index, "mistral-medium-3")
    assert listed(index, "code-llama-4")
    response = client.get(f"/tools/mistral-medium-3?min_position={receipt.position}")
    assert response.status_code == 200
    page = Page(response.text)
    said = notice(page)
    assert said.startswith("Retired since ")
    assert f"(log position #{receipt.position})" in said
    assert "Replaced by Mistral Medium 4" in said
    card = client.get("/api/tools/mistral-medium-3").json()
    since = datetime.fromisoformat(card["retirement"]["at"])
    assert since.strftime("%Y-%m-%d %H:%M UTC") in said
    stamped = [node.attrs["datetime"] for node in page.tags("time")]
    assert since.isoformat() in stamped


def test_a_reinstated_tool_loses_the_notice(client: TestClient[Litestar]) -> None:
    ledger = ledger_of(client)
    ledger.retire_tool(EDITOR, "mistral-medium-3", reason="Replaced")
    receipt = ledger.reinstate_tool(EDITOR, "mistral-medium-3", reason="Back again")
    page = Page(
        client.get(f"/tools/mistral-medium-3?min_position={receipt.position}").text
    )
    assert page.find("data-retired") == []
    assert listed(Page(client.get("/").text), "mistral-medium-3")


def test_a_retired_comparison_leaves_the_index_and_its_page_says_why(
    client: TestClient[Litestar],
) -> None:
    receipt = ledger_of(client).retire_comparison(
        EDITOR,
        "code-llama-4",
        "mistral-medium-3",
        reason="Superseded by a newer match-up",
    )
    index = Page(client.get(f"/?min_position={receipt.position}").text)
    assert index.find("href", COMPARE) == []
    assert listed(index, "mistral-medium-3")  # the tools themselves stay active
    page = Page(client.get(COMPARE).text)
    said = notice(page)
    assert said.startswith("Retired since ")
    assert f"(log position #{receipt.position})" in said
    assert "Superseded by a newer match-up" in said
    tool_page = Page(client.get("/tools/code-llama-4").text)
    assert tool_page.find("href", COMPARE) == []
    assert tool_page.find("data-retired") == []
