"""The HTML pages: the index, a tool's page and the comparison page of the seed.

Pages read only from the read model, like the JSON API, and render with Jinja
(autoescaped: every name, tagline and rationale is someone's free text). The
comparison page's vote buttons are the only script, and it talks to the same
JSON API as any other client, so the page shows nothing the API could not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Controller, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_404_NOT_FOUND
from litestar.template.config import TemplateConfig

from api import present
from api.chart import ship_chart
from projections.models import Card, ComparisonSummary, ReviewItem
from projections.queries import ReadModel

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def environment() -> Environment:
    """The Jinja environment: autoescaped, strict, with the page filters.

    ``StrictUndefined`` turns a misspelt variable into an error a test sees
    rather than a silently blank figure on the page.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=present.pct,
        interval=present.interval,
        counted=present.counted,
        spread=present.spread,
        votes=present.votes,
        when=present.when,
        iso=present.iso,
        event=present.event_label,
        change=present.change,
    )
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The template configuration the app factory installs."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def static_router() -> Router:
    """Serves api/static/ (one stylesheet, one script) under /static."""
    return create_static_files_router(
        path="/static",
        directories=[STATIC],
        name="static",
        cache_control=CacheControlHeader(max_age=300),
    )


@dataclass(frozen=True)
class LensRow:
    """One lens of the reviewer scorecard: a reviewer's reviews of both tools."""

    reviewer: str
    lens: str
    a: ReviewItem | None
    b: ReviewItem | None


def scorecard(a: list[ReviewItem], b: list[ReviewItem]) -> list[LensRow]:
    """Pairs two tools' reviews by reviewer, in the seed page's lens order."""
    by_reviewer_a = {item.reviewer: item for item in a}
    by_reviewer_b = {item.reviewer: item for item in b}
    lenses = {item.reviewer: item.lens for item in (*a, *b)}
    rows = [
        LensRow(
            reviewer, lens, by_reviewer_a.get(reviewer), by_reviewer_b.get(reviewer)
        )
        for reviewer, lens in lenses.items()
    ]
    return sorted(rows, key=lambda row: (present.lens_key(row.lens), row.reviewer))


def by_lens(reviews: list[ReviewItem]) -> list[ReviewItem]:
    """A tool's reviews in the seed page's lens order."""
    return sorted(
        reviews, key=lambda item: (present.lens_key(item.lens), item.reviewer)
    )


def not_found(title: str, detail: str, links: list[tuple[str, str]]) -> Template:
    """A 404 page that says what was missing and where to go instead."""
    return Template(
        "not_found.html",
        context={"title": title, "detail": detail, "links": links},
        status_code=HTTP_404_NOT_FOUND,
    )


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
            return not_found(
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
            return not_found(
                "No such comparison", detail + ".", [("/", "See all comparisons")]
            )
        context: dict[str, Any] = {
            "view": view,
            "rows": scorecard(read_model.reviews(a), read_model.reviews(b)),
        }
        return Template("compare.html", context=context)
