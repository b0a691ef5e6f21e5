"""A tool's page: its card, reviews lens by lens, and its verdict history."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.pages.helpers import Page, revise


def changes(page: Page) -> list[list[str]]:
    """The rows of the table of reviews and edits (six cells each)."""
    return [row for row in page.rows() if len(row) == 6]


def buckets(page: Page) -> list[list[str]]:
    """The rows of the table of changes by bucket (five cells each)."""
    return [row for row in page.rows() if len(row) == 5]


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


def test_history_lists_reviews_and_edits_newest_first(
    client: TestClient[Litestar],
) -> None:
    page = Page(client.get("/tools/code-llama-4").text)
    assert page.tag_texts("th")[:6] == [
        "Time",
        "Event",
        "Actor",
        "Reason",
        "Panel ship",
        "Community",
    ]
    rows = changes(page)
    reviews = [row for row in rows if row[1].startswith("Review submitted")]
    assert [row[2] for row in reviews] == [
        "reviewer:buyer",
        "reviewer:futurist",
        "reviewer:skeptic",
        "reviewer:builder",
    ]
    # A panel of four: every share so far is provisional, marked by a dagger.
    assert reviews[-1][4] == "— → 100%†"
    assert all(row[4] == "100%†" for row in reviews[:-1])
    assert all(row[5] == "—" for row in rows)
    assert all(row[0].endswith("UTC") for row in rows)
    positions = [int(row[1].rpartition("#")[2]) for row in rows]
    assert positions == sorted(positions, reverse=True)


def test_history_sums_every_change_per_day(client: TestClient[Litestar]) -> None:
    history = client.get("/api/tools/code-llama-4/history").json()["items"]
    page = Page(client.get("/tools/code-llama-4").text)
    days = {item["at"][:10] for item in history}
    rows = buckets(page)
    assert [row[0] for row in rows] == sorted(days, reverse=True)
    assert sum(int(row[1]) for row in rows) == len(history)
    assert rows[0][3] == "100%†", "the newest day ends on the card's panel share"


def test_history_chart_is_inline_svg(client: TestClient[Litestar]) -> None:
    page = Page(client.get("/tools/mistral-medium-3").text)
    [svg] = page.tags("svg")
    assert svg.attrs["role"] == "img"
    series = [node.attrs["class"] for node in page.tags("g")]
    assert series == ["series panel", "series community"]
    paths = [node.attrs["d"] or "" for node in page.tags("path")]
    assert len(paths) == 1, "only the panel has a share; the community line is empty"
    assert paths[0].startswith("M")
    history = client.get("/api/tools/mistral-medium-3/history").json()["items"]
    known = sum(
        item["after"][pick]["ship_pct"] is not None
        for item in history
        for pick in ("panel", "community")
    )
    assert len(page.tags("circle")) == known, "one point per known share"


def test_a_revision_lands_in_history_and_chart(client: TestClient[Litestar]) -> None:
    before = Page(client.get("/tools/mistral-medium-3").text)
    position = revise(
        client, "mistral-medium-3", "buyer", "ship", "Enterprise tier announced"
    )
    page = Page(client.get(f"/tools/mistral-medium-3?min_position={position}").text)
    rows = changes(page)
    assert len(rows) == len(changes(before)) + 1
    newest = rows[0]
    assert newest[1] == f"Review revised #{position}"
    assert newest[2:5] == [
        "reviewer:buyer",
        "Enterprise tier announced",
        "75%† → 100%†",
    ]
    assert len(page.tags("circle")) == len(before.tags("circle")) + 1
    assert "revised 1\u00d7" in page.text
