"""The HTML pages: the index, a tool's page and the comparison page of the seed.

Pages read only from the read model, like the JSON API. The comparison
page's vote buttons are the only script, and it talks to the same JSON API
as any other client, so the page shows nothing the API could not.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from api.web.chart import ship_chart
from api.web.present import by_lens, scorecard
from api.web.templating import not_found_page
from projections.models import Card, ComparisonSummary
from projections.queries import ReadModel


def _names(cards: list[Card]) -> dict[str, str]:
    return {card.slug: card.name for card in cards}


def _comparisons_of(
    read_model: ReadModel, slug: str | None = None
) -> list[ComparisonSummary]:
    return [
        item
        for item in read_model.comparisons()
        if not item.retired and (slug is None or slug in (item.a, item.b))
    ]


class PagesController(Controller):
    """The human-facing pages; the JSON API serves the same data under /api."""

    include_in_schema = False

    @get("/", name="pages:index", sync_to_thread=False)
    def index(self, read_model: NamedDependency[ReadModel]) -> Template:
        """Every tool with its three headline figures, and the comparisons."""
        tools = read_model.tools()
        context: dict[str, Any] = {
            "tools": [card for card in tools if not card.retired],
            "retired": [card for card in tools if card.retired],
            "comparisons": _comparisons_of(read_model),
            "names": _names(tools),
        }
        return Template("index.html", context=context)

    @get("/tools/{slug:str}", name="pages:tool", sync_to_thread=False)
    def tool(
        self, slug: FromPath[str], read_model: NamedDependency[ReadModel]
    ) -> Template:
        """A tool's card, its reviews lens by lens, and how its verdict came to be."""
        card = read_model.tool(slug)
        if card is None:
            return not_found_page(
                "No such tool",
                f"There is no tool called “{slug}” in the ledger.",
                [("/", "See all tools")],
            )
        history = read_model.history(slug)
        context: dict[str, Any] = {
            "card": card,
            "reviews": by_lens(read_model.reviews(slug)),
            "history": history,
            "chart": ship_chart(history),
            "comparisons": _comparisons_of(read_model, slug),
            "names": _names(read_model.tools()),
        }
        return Template("tool.html", context=context)

    @get("/compare/{a:str}/{b:str}", name="pages:compare", sync_to_thread=False)
    def compare(
        self, a: FromPath[str], b: FromPath[str], read_model: NamedDependency[ReadModel]
    ) -> Template:
        """The seed page: two cards, the reviewer scorecard and the community vote."""
        view = read_model.comparison(a, b) if a != b else None
        if view is None:
            missing = [
                slug for slug in dict.fromkeys((a, b)) if read_model.tool(slug) is None
            ]
            if missing:
                detail = "There is no tool called " + " or ".join(
                    f"“{slug}”" for slug in missing
                )
            else:
                detail = f"“{a}” and “{b}” have not been compared"
            return not_found_page(
                "No such comparison", detail + ".", [("/", "See all comparisons")]
            )
        context: dict[str, Any] = {
            "view": view,
            "rows": scorecard(read_model.reviews(a), read_model.reviews(b)),
        }
        return Template("compare.html", context=context)
