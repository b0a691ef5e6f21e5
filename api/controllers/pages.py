"""The HTML pages: the index, a tool's page and the comparison page of the seed.

Pages read only from the read model, like the JSON API. The comparison
page's vote buttons are the only script, and it talks to the same JSON API
as any other client, so the page shows nothing the API could not.

Every page is of bounded size whatever the ledger holds: each list on it is
one page of the API's list, with an "older" or "more" link carrying the
list's cursor, and the verdict history is drawn from its buckets once it is
long (see :data:`CHART_POINTS`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from api.pagination import Cursor, decode, encode, link_setting, link_with
from api.web.chart import Chart, bucket_chart, ship_chart
from api.web.present import by_lens, scorecard
from api.web.templating import not_found_page
from projections.diff_queries import parse_point
from projections.history_pages import HistoryFilter
from projections.models import CHOICES, SIDES, ComparisonSummary, HistoryBucket, Page
from projections.queries import ReadModel
from projections.snapshots import first_page

TOOLS_PER_PAGE = 24
COMPARISONS_PER_PAGE = 20
REVIEWS_PER_PAGE = 6
CHANGES_PER_PAGE = 20
BUCKETS_PER_PAGE = 30
SCORECARD_ROWS = 4
SOURCES_PER_PAGE = 20
"""The events a provenance page lists per figure, each list with its own cursor."""
SINCE = (("the last 7 days", 7), ("the last 30 days", 30))
"""The spans "What changed since …" offers as links, in days back from today."""
CHART_POINTS = 120
"""The most points a chart draws: event by event up to this many changes,
then by the finest bucket (day, week, month) that needs no more."""

VERDICTS = HistoryFilter(kinds=frozenset({"panel", "edit"}))
"""The changes a tool page lists one by one; votes it sums up per bucket."""

PointText = Annotated[str | None, QueryParameter(max_length=64)]
"""A point of the log as the tool page takes it: a position or an ISO-8601 time."""


def _more(request: Request[Any, Any, State], name: str, page: Page[Any]) -> str | None:
    """The link to this page with list ``name`` moved on to its next page."""
    if page.next is None:
        return None
    return link_with(request, name, encode(page.next))


def _since_links(slug: str) -> list[tuple[str, str]]:
    """The "since" links of a tool page: each span back from today (UTC)."""
    today = datetime.now(UTC).date()
    return [
        (label, f"/tools/{slug}?since={today - timedelta(days=days)}#changed")
        for label, days in SINCE
    ]


def _changed(
    request: Request[Any, Any, State],
    read_model: ReadModel,
    slug: str,
    since: str | None,
    to: str | None,
    diffed: str | None,
) -> dict[str, Any]:
    """The "What changed since …" part of a tool page's context.

    Pages never wait for the read model: a point past what it reflects is
    said so on the page, as is a point that is neither a position nor a time.
    """
    found: dict[str, Any] = {
        "since": since,
        "diff": None,
        "more_diff": None,
        "since_error": None,
        "since_label": None,
    }
    if since is None:
        return found
    head = read_model.position()
    try:
        point = parse_point(since)
        start = read_model.resolve(point)
        end = head if to is None else read_model.resolve(parse_point(to))
        if max(start, end) > head:
            msg = f"position {max(start, end)} is past the newest event read ({head})"
            raise ValueError(msg)
        diff = read_model.diff(slug, start, end, decode(diffed, int), CHANGES_PER_PAGE)
    except ValueError as refused:
        return {**found, "since_error": str(refused)}
    more = None
    if diff.events.next is not None:
        more = link_setting(request, {"to": end, "diffed": encode(diff.events.next)})
    label = f"position {point}" if isinstance(point, int) else since
    return {**found, "diff": diff, "more_diff": more, "since_label": label}


def _names(read_model: ReadModel, items: list[ComparisonSummary]) -> dict[str, str]:
    return read_model.names(sorted({s for item in items for s in (item.a, item.b)}))


class PagesController(Controller):
    """The human-facing pages; the JSON API serves the same data under /api."""

    include_in_schema = False

    @get("/", name="pages:index", sync_to_thread=False, cache=True)
    def index(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        tools: Cursor = None,
        comparisons: Cursor = None,
    ) -> Template:
        """A page of the active tools with their headline figures, and of the
        live comparisons; retired ones stay readable at their own pages."""
        cards = read_model.tools_page(
            decode(tools, int) or 0, TOOLS_PER_PAGE, live=True
        )
        compared = read_model.comparisons_page(
            decode(comparisons, int) or 0, COMPARISONS_PER_PAGE, live=True
        )
        context: dict[str, Any] = {
            "tools": cards.items,
            "more_tools": _more(request, "tools", cards),
            "comparisons": compared.items,
            "more_comparisons": _more(request, "comparisons", compared),
            "names": _names(read_model, compared.items),
        }
        return Template("index.html", context=context)

    @get("/tools/{slug:str}", name="pages:tool", sync_to_thread=False, cache=True)
    def tool(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        changes: Cursor = None,
        buckets: Cursor = None,
        reviews: Cursor = None,
        compared: Cursor = None,
        since: PointText = None,
        to: PointText = None,
        diffed: Cursor = None,
    ) -> Template:
        """A tool's card, its reviews lens by lens, and how its verdict came to be.

        With ``since``, also what changed since then (up to ``to``, by
        default now): the card's figures at both points and a page of the
        changes between, as ``/api/tools/{slug}/diff`` answers them.
        """
        card = read_model.tool(slug)
        if card is None:
            return not_found_page(
                "No such tool",
                f"There is no tool called “{slug}” in the ledger.",
                [("/", "See all tools")],
            )
        panel = read_model.reviews_page(
            slug, decode(reviews, int) or 0, REVIEWS_PER_PAGE
        )
        listed = read_model.history_page(
            slug,
            decode(changes, int),
            CHANGES_PER_PAGE,
            newest_first=True,
            only=VERDICTS,
        )
        extent = read_model.history_extent(slug)
        size = extent.finest_bucket(CHART_POINTS)
        newest = read_model.history_buckets(
            slug, size, None, CHART_POINTS, newest_first=True
        )
        if buckets is None:  # the newest of the chart's buckets
            shown = first_page(
                newest.items, BUCKETS_PER_PAGE, lambda item: item.start.isoformat()
            )
        else:
            shown = read_model.history_buckets(
                slug, size, decode(buckets, str), BUCKETS_PER_PAGE, newest_first=True
            )
        others = read_model.comparisons_page(
            decode(compared, int) or 0, COMPARISONS_PER_PAGE, tool=slug, live=True
        )
        context: dict[str, Any] = {
            "card": card,
            "reviews": by_lens(panel.items),
            "more_reviews": _more(request, "reviews", panel),
            "changes": listed.items,
            "older_changes": _more(request, "changes", listed),
            "bucket": size,
            "buckets": shown.items,
            "older_buckets": _more(request, "buckets", shown),
            "chart": self._chart(read_model, slug, extent.changes, newest, size),
            "comparisons": others.items,
            "more_comparisons": _more(request, "compared", others),
            "names": _names(read_model, others.items),
            "sources": f"/tools/{slug}/provenance",
            "since_links": _since_links(slug),
            **_changed(request, read_model, slug, since, to, diffed),
        }
        return Template("tool.html", context=context)

    @get(
        "/tools/{slug:str}/provenance",
        name="pages:provenance",
        sync_to_thread=False,
        cache=True,
    )
    def provenance(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        panel_ship: Cursor = None,
        panel_skip: Cursor = None,
        community_ship: Cursor = None,
        community_skip: Cursor = None,
    ) -> Template:
        """The events behind each figure of a tool's card, each with its proof link.

        Each figure lists a page of its events, with its own cursor (named
        after the figure) in the "more" link.
        """
        found = read_model.provenance(slug, SOURCES_PER_PAGE)
        if found is None:
            return not_found_page(
                "No such tool",
                f"There is no tool called “{slug}” in the ledger.",
                [("/", "See all tools")],
            )
        cursors = {
            ("panel", "ship"): panel_ship,
            ("panel", "skip"): panel_skip,
            ("community", "ship"): community_ship,
            ("community", "skip"): community_skip,
        }
        figures = []
        for side in SIDES:
            for choice in CHOICES:
                cursor = decode(cursors[side, choice], int)
                page = found.sources[side, choice]
                if cursor is not None:
                    page = read_model.sources_page(
                        slug, side, choice, cursor, SOURCES_PER_PAGE
                    )
                figures.append(
                    {
                        "side": side,
                        "choice": choice,
                        "count": getattr(getattr(found.card, side), choice),
                        "items": page.items,
                        "more": _more(request, f"{side}_{choice}", page),
                    }
                )
        context: dict[str, Any] = {
            "card": found.card,
            "position": found.position,
            "figures": figures,
        }
        return Template("provenance.html", context=context)

    @staticmethod
    def _chart(
        read_model: ReadModel,
        slug: str,
        changes: int,
        newest: Page[HistoryBucket],
        size: str,
    ) -> Chart | None:
        """Event by event while the history is short, else by the newest buckets."""
        if changes <= CHART_POINTS:
            return ship_chart(read_model.history_page(slug, None, CHART_POINTS).items)
        return bucket_chart(newest.items[::-1], size)

    @get(
        "/compare/{a:str}/{b:str}",
        name="pages:compare",
        sync_to_thread=False,
        cache=True,
    )
    def compare(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        reviewers: Cursor = None,
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
        rows = scorecard(read_model.reviews(a), read_model.reviews(b))
        start = decode(reviewers, int) or 0
        shown = Page(
            items=rows[start : start + SCORECARD_ROWS],
            next=start + SCORECARD_ROWS if start + SCORECARD_ROWS < len(rows) else None,
        )
        context: dict[str, Any] = {
            "view": view,
            "rows": shown.items,
            "more_rows": _more(request, "reviewers", shown),
        }
        return Template("compare.html", context=context)
