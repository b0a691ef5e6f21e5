"""A tool's page: its card, reviews lens by lens, and its verdict history."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.pages.helpers import Page, revise


def after(cell: str) -> str:
    """The figure a history cell ends on: "75% → 100%" → "100%"."""
    return cell.split("→")[-1].strip()


def test_tool_page_shows_card_and_reviews(client: TestClient[Litestar]) -> None:
    response = client.get("/tools/code-llama-4")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.tag_texts("h1") == ["Code Llama 4 (70B & 400B)"]
    assert "Panel ship 4 verdicts 51\u2013100% 100%" in page.text
    captions = page.tag_texts("figcaption")
    lenses = [
        caption.split(" lens")[0] for caption in captions if " lens · " in caption
    ]
    assert lenses == ["Builder", "Skeptic", "Futurist", "Buyer"]
    assert all(
        caption.endswith("Ship") for caption in captions if " lens · " in caption
    )
    assert "no vendor in the loop" in page.text
    compared = page.find("href", "/compare/code-llama-4/mistral-medium-3")
    assert compared, "the tool page links to its comparison"


def test_history_table_has_a_row_per_card_change(client: TestClient[Litestar]) -> None:
    page = Page(client.get("/tools/code-llama-4").text)
    assert page.tag_texts("th") == [
        "Time",
        "Event",
        "Actor",
        "Reason",
        "Panel ship",
        "Community",
    ]
    rows = page.rows()
    assert rows
    reviews = [row for row in rows if row[1].startswith("Review submitted")]
    assert [row[2] for row in reviews] == [
        "reviewer:builder",
        "reviewer:skeptic",
        "reviewer:futurist",
        "reviewer:buyer",
    ]
    assert reviews[0][4] == "— → 100%"
    assert all(row[4] == "100%" for row in reviews[1:])
    assert all(row[5] == "—" for row in rows)
    assert all(row[0].endswith("UTC") for row in rows)


def test_history_chart_is_inline_svg(client: TestClient[Litestar]) -> None:
    page = Page(client.get("/tools/mistral-medium-3").text)
    [svg] = page.tags("svg")
    assert svg.attrs["role"] == "img"
    series = [node.attrs["class"] for node in page.tags("g")]
    assert series == ["series panel", "series community"]
    paths = [node.attrs["d"] or "" for node in page.tags("path")]
    assert len(paths) == 1, "only the panel has a share; the community line is empty"
    assert paths[0].startswith("M")
    known = sum(after(cell) != "—" for row in page.rows() for cell in row[4:6])
    assert len(page.tags("circle")) == known, "one point per known share"


def test_a_revision_lands_in_history_and_chart(client: TestClient[Litestar]) -> None:
    before = Page(client.get("/tools/mistral-medium-3").text)
    position = revise(
        client, "mistral-medium-3", "buyer", "ship", "Enterprise tier announced"
    )
    page = Page(client.get(f"/tools/mistral-medium-3?min_position={position}").text)
    rows = page.rows()
    assert len(rows) == len(before.rows()) + 1
    last = rows[-1]
    assert last[1] == f"Review revised #{position}"
    assert last[2:5] == ["reviewer:buyer", "Enterprise tier announced", "75% → 100%"]
    assert len(page.tags("circle")) == len(before.tags("circle")) + 1
    assert "revised 1\u00d7" in page.text
