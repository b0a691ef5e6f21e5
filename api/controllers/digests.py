"""The weekly digest: ``/api/digests/{week}`` as data, ``/digests/{week}`` as a page.

A week is an ISO week (``2026-W48``). A week that has not begun has no
digest (404); the running week's says what happened so far. The page shows
what the mails say, in the site's layout, with the same absolute links.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Redirect, Template

from api.config import ApiSettings
from api.problem_details import documented
from api.web.digest_render import digest_url, page_context
from api.web.templating import not_found_page
from ledger import errors
from ledger.weeks import PATTERN, Week
from projections.digest_queries import Digest
from projections.queries import ReadModel

WeekText = Annotated[
    str,
    Parameter(
        description="An ISO week, YYYY-Www (2026-W48)",
        pattern=PATTERN,
        max_length=8,
    ),
]
WeekName = Annotated[str, Parameter(description="An ISO week, YYYY-Www (2026-W48)")]
"""A page's week: any text, so a malformed one gets the site's own 404 page."""


def begun(text: str, now: datetime | None = None) -> Week:
    """The week ``text`` names, if it has begun.

    Raises:
        errors.InvalidWeek: ``text`` is no ISO week.
        errors.WeekNotBegun: The week lies in the future.
    """
    week = Week.parse(text)
    if not week.has_begun(now or datetime.now(UTC)):
        msg = f"week {week.label} has not begun; its digest starts on {week.monday}"
        raise errors.WeekNotBegun(msg)
    return week


class DigestsController(Controller):
    """The weekly digests as data."""

    path = "/api/digests"
    tags = ["digests"]

    @get(
        "/{week:str}",
        sync_to_thread=False,
        summary="A week's digest: new comparisons, changed verdicts, community swings",
        cache=True,
        responses=documented(404, 422),
    )
    def digest(self, week: WeekText, read_model: NamedDependency[ReadModel]) -> Digest:
        """Each item names its tool or tools by slug; figures are before and
        after the week (Monday 00:00 UTC to the next Monday)."""
        return read_model.digest(begun(week))


class DigestPagesController(Controller):
    """The weekly digests as pages."""

    include_in_schema = False

    @get("/digests", name="pages:digests", sync_to_thread=False)
    def latest(self) -> Redirect:
        """The newest complete week's digest."""
        return Redirect(path=f"/digests/{Week.last_complete().label}")

    @get("/digests/{week:str}", name="pages:digest", sync_to_thread=False, cache=True)
    def digest(
        self,
        week: WeekName,
        read_model: NamedDependency[ReadModel],
        state: State,
    ) -> Template:
        """A week's digest within the site's layout, linking to the weeks around it."""
        try:
            found = begun(week)
        except (errors.InvalidWeek, errors.WeekNotBegun) as refused:
            return not_found_page(
                "No digest for that week",
                f"{refused}.",
                [(f"/digests/{Week.last_complete().label}", "The latest digest")],
            )
        settings: ApiSettings = state.settings
        site = settings.site_url
        context: dict[str, Any] = page_context(read_model.digest(found), site)
        following = found.next()
        context |= {
            "previous": found.previous().label,
            "previous_url": digest_url(site, found.previous().label),
            "next": following.label,
            "next_url": digest_url(site, following.label)
            if following.has_begun()
            else None,
        }
        return Template("digest.html", context=context)
