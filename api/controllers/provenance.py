"""A tool's ``/diff`` and ``/provenance``: what changed, and where figures come from.

A diff answers "what changed since …": the card at two points of the log
(each a position or a time) and every event between them that changed it,
with its actor and reason. Provenance answers "where does this figure come
from": for each of the card's four counts, the events it counts now, each
with its log position and the link to its inclusion proof, so that an
auditor can check every number against the tamper-evident log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api import param_bounds
from api.controllers.tools import missing
from api.pagination import (
    DEFAULT_LIMIT,
    LINK_HEADER,
    Cursor,
    Limit,
    decode,
    encode,
    link_header,
    link_setting,
    paged,
)
from api.problem_details import ApiProblem, documented
from api.read_your_writes import READ, reach
from api.schemas import (
    Evidence,
    EvidenceList,
    FigureSources,
    SideSources,
    ToolDiff,
    ToolProvenance,
)
from projections.diff_queries import parse_point
from projections.models import CHOICES, Page, Provenance, Source
from projections.queries import ReadModel

Side = Literal["panel", "community"]
Choice = Literal["ship", "skip"]

POINT = "a log position (a whole number) or an ISO-8601 date or time (naive means UTC)"

DIFF = """\
The card as it stood at `from` and at `to` (`{position, at, card}`: the card
right after the event at `position`, stamped `at`; the card is null while the
tool was not registered yet), and a page of the events after `from` up to and
including `to` that changed it (its reviews, votes and own events), oldest
first, each with its actor, reason and the card's figures before and after
it, and for an edit the fields it set.

Each point is a log position or a time; a time stands for the newest event
stamped at or before it. `to` defaults to the newest position read. A
position the read model has not reached is waited for (as `min_position`);
one past the log is 422, as is `from` after `to`; a point that is neither a
position nor a time is 400. The `next` link pins `to`, so the pages of one
diff end where its first page did while the log grows."""

PROVENANCE = """\
For each of the card's four figures (`panel` and `community`, `ship` and
`skip`): its `count`, the card's figure, and the events it counts now, each
with its log position, time, type, actor (a voter's is a keyed hash) and the
link to its inclusion proof in the log's Merkle tree
(`/api/events/{position}/proof`). A panel figure counts live reviews, each
through its latest event, which states the verdict counted; a community
figure counts current votes, each through the event that set its choice.
There are exactly `count` events per figure, all read at `position`.

Votes can be many: each figure lists at most `limit` events here, in log
order, and its `next` links to the rest at
`/api/tools/{slug}/provenance/{side}/{choice}`, paged like every list."""

FIGURE = """\
The events one figure of the card counts now (see the card's provenance), in
log order, paged. A vote that changes moves to the end of its new figure's
list, so the next links never repeat an event; a vote that changes while a
client pages may be missed in its old list and met again in its new one."""


def proof_link(position: int) -> str:
    """Where the inclusion proof of the event at ``position`` is answered."""
    return f"/api/events/{position}/proof"


def evidence(source: Source) -> Evidence:
    """A figure's event as the API answers it: with its proof link."""
    return Evidence(
        position=source.position,
        at=source.at,
        type=source.type,
        actor=source.actor,
        proof=proof_link(source.position),
        reviewer=source.reviewer,
    )


def _point(name: str, text: str) -> int | datetime:
    try:
        return parse_point(text)
    except ValueError as refused:
        raise ApiProblem("invalid-point", f"{name}: {refused}") from refused


async def _position(state: State, read_model: ReadModel, point: int | datetime) -> int:
    """The position a point stands at; a position is waited for, as min_position is."""
    if isinstance(point, int):
        await reach(state, point)
        return point
    return read_model.resolve(point)


def _figure(
    provenance: Provenance, side: str, choice: str, limit: int
) -> FigureSources:
    page = provenance.sources[side, choice]
    figures = getattr(provenance.card, side)
    link = None
    if page.next is not None:
        query = urlencode({"limit": limit, "cursor": encode(page.next)})
        link = f"/api/tools/{provenance.card.slug}/provenance/{side}/{choice}?{query}"
    return FigureSources(
        count=getattr(figures, choice),
        items=[evidence(source) for source in page.items],
        next=link,
    )


class ProvenanceController(Controller):
    """Diffs of a card between two points, and the events behind its figures."""

    path = "/api/tools"
    tags = ["tools"]

    @get(
        "/{slug:str}/diff",
        summary="The card at two points of the log, and every change between them",
        description=DIFF,
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(400, 404, *READ),
    )
    async def diff(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        state: State,
        read_model: NamedDependency[ReadModel],
        start: Annotated[
            str,
            QueryParameter(
                name="from",
                min_length=1,
                max_length=64,
                description=f"From {POINT}",
                schema_extra=param_bounds.POINT,
            ),
        ],
        end: Annotated[
            str | None,
            QueryParameter(
                name="to",
                min_length=1,
                max_length=64,
                description=f"To {POINT}; by default, the newest position read",
                schema_extra=param_bounds.POINT,
            ),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[ToolDiff]:
        """The events are those after ``from``, up to and including ``to``.

        A time stands for the newest event stamped at or before it; a
        position the read model has not reached yet is waited for, as with
        ``min_position``, and one past the log is 422. ``from`` after ``to``
        is 422. The card at a point is null while the tool was not
        registered yet.
        """
        if read_model.tool(slug) is None:
            raise missing(slug)
        first = _point("from", start)
        last = None if end is None else _point("to", end)
        if isinstance(first, datetime) and isinstance(last, datetime) and first > last:
            raise ApiProblem(
                "from-after-to", f"from ({start}) is after to ({end}); swap them"
            )
        after = await _position(state, read_model, first)
        until = (
            read_model.position()
            if last is None
            else await _position(state, read_model, last)
        )
        if after > until:
            raise ApiProblem(
                "from-after-to",
                f"from stands at position {after}, after to at position {until}",
            )
        found = read_model.diff(slug, after, until, decode(cursor, int), limit)
        link = None
        if found.events.next is not None:
            link = link_setting(
                request, {"to": until, "cursor": encode(found.events.next)}
            )
        body = ToolDiff(
            tool=slug,
            start=found.start,
            end=found.end,
            events=found.events.items,
            next=link,
        )
        return Response(body, headers=link_header(link))

    @get(
        "/{slug:str}/provenance",
        sync_to_thread=False,
        summary="The events behind each figure of the card, with proof links",
        description=PROVENANCE,
        cache=True,
        responses=documented(404, *READ),
    )
    def provenance(
        self,
        slug: FromPath[str],
        read_model: NamedDependency[ReadModel],
        limit: Annotated[
            int,
            QueryParameter(
                ge=1,
                le=1000,
                description="At most this many events per figure (default "
                f"{DEFAULT_LIMIT}); each figure's next link pages on",
            ),
        ] = DEFAULT_LIMIT,
    ) -> ToolProvenance:
        """For each figure (panel and community, ship and skip): its count, the
        first page of the events it counts now, and a link to the rest.

        A panel figure counts live reviews, each through its latest event (the
        one that states the verdict counted); a community figure counts
        current votes, each through the event that set its choice. There are
        exactly ``count`` events per figure, the card's figure at ``position``.
        """
        found = read_model.provenance(slug, limit)
        if found is None:
            raise missing(slug)
        sides = {
            side: SideSources(*(_figure(found, side, c, limit) for c in CHOICES))
            for side in ("panel", "community")
        }
        return ToolProvenance(
            tool=slug,
            position=found.position,
            panel=sides["panel"],
            community=sides["community"],
        )

    @get(
        "/{slug:str}/provenance/{side:str}/{choice:str}",
        sync_to_thread=False,
        summary="A page of the events one figure of the card counts now",
        description=FIGURE,
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(404, *READ),
    )
    def figure(
        self,
        slug: FromPath[str],
        side: FromPath[Side],
        choice: FromPath[Choice],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[EvidenceList]:
        """In log order; a vote that changes later moves to the end of its new
        figure's list, so following the next links never repeats an event."""
        if read_model.tool(slug) is None:
            raise missing(slug)
        page = read_model.sources_page(
            slug, side, choice, decode(cursor, int) or 0, limit
        )
        items = [evidence(source) for source in page.items]
        return paged(request, Page(items=items, next=page.next), EvidenceList)
