"""``/feeds``: the Atom feed of verdict changes."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from api.web import atom
from projections.queries import ReadModel

ENTRIES = 50


class FeedController(Controller):
    """Serves the verdict-change feed at /feeds/verdicts.atom."""

    path = "/feeds"
    include_in_schema = False

    @get("/verdicts.atom", name="feeds:verdicts", sync_to_thread=False)
    def verdicts(
        self, request: Request, read_model: NamedDependency[ReadModel]
    ) -> Response[bytes]:
        """The latest verdict changes, newest first."""
        changes = read_model.verdict_changes(limit=ENTRIES)
        names = read_model.names(sorted({slug for slug, _ in changes}))
        body = atom.build(changes, names, str(request.base_url))
        return Response(body, media_type=f"{atom.MEDIA_TYPE}; charset=utf-8")
