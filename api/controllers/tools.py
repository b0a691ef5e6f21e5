"""``/api/tools``: cards, their history and as-of scorecards; register, edit, retire.

The list leaves retired tools out; a retired tool's card, history and
scorecards stay readable at their URLs, and its card says since when and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ASGIApp

from api import commands, param_bounds
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Cursor, Limit, decode, paged
from api.prebuilt import NOT_MODIFIED, card_etag, prebuilt_response
from api.problem_details import ApiProblem, documented
from api.read_your_writes import READ, MinPosition, reach
from api.schemas import (
    BucketList,
    HistoryList,
    RetireOrReinstate,
    ToolCreate,
    ToolList,
    ToolUpdate,
    WriteReceipt,
)
from api.security import BEARER, requires
from ledger import errors
from ledger.application import Ledger
from projections.history_pages import EmptyTimeRange, HistoryFilter
from projections.models import Card
from projections.queries import ReadModel

Kind = Literal["panel", "community", "edit"]
Bucket = Literal["day", "week", "month"]


def missing(slug: str) -> errors.ToolNotFound:
    """The refusal of a read that names no registered tool."""
    return errors.ToolNotFound(f"no tool {slug!r}")


def _utc(name: str, moment: datetime | None) -> datetime | None:
    """A time from a query, in UTC; a time without a zone is taken as UTC.

    Raises:
        ApiProblem: ``validation-failed``, for a time that falls outside the
            years 1 to 9999 once in UTC (``0001-01-01T00:00+14:00``).
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ApiProblem(
            "validation-failed",
            f"{name}: {moment.isoformat()} is outside the years 1 to 9999 in UTC",
        ) from None


class ToolsController(Controller):
    """Tools and their scorecards."""

    path = "/api/tools"
    tags = ["tools"]

    @get(
        "/",
        sync_to_thread=False,
        summary="A page of the active tools' current cards, in the order registered",
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(*READ),
    )
    def list_tools(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[ToolList]:
        """Retired tools are left out; each stays readable at its own URL."""
        page = read_model.tools_page(decode(cursor, int) or 0, limit, live=True)
        return paged(request, page, ToolList)

    @get(
        "/{slug:str}",
        summary="A tool's current card",
        responses={
            **prebuilt_response(Card),
            **NOT_MODIFIED,
            **documented(404, *READ),
        },
    )
    async def card(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        min_position: MinPosition = None,
    ) -> ASGIApp:
        """The card, encoded once per read-model position, with an ETag.

        The ETag is ``"slug:version:position"``; ``If-None-Match`` with it
        answers 304 while the card is unchanged, and its version part is
        accepted by ``If-Match`` on PATCH. The busiest read of the site, so
        it skips dependency injection and answers prebuilt bytes.
        """
        state = request.app.state
        if min_position:
            await reach(state, min_position)
        read_model: ReadModel = state.read_model
        entry = state.encoded.view(
            ("card", slug),
            read_model.position(),
            lambda: read_model.tool(slug),
            lambda card, _: card_etag(card),
        )
        if entry is None:
            raise missing(slug)
        return entry.answer(request)

    @get(
        "/{slug:str}/history",
        sync_to_thread=False,
        summary="A page of the events that changed the card, or of its buckets",
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(404, *READ),
    )
    def history(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        bucket: Annotated[
            Bucket | None,
            QueryParameter(
                description="Summarise by UTC day, ISO week or month: the card's "
                "figures at the end of each, with the count of changes in it"
            ),
        ] = None,
        order: Annotated[
            Literal["oldest", "newest"],
            QueryParameter(description="Oldest first (the default) or newest first"),
        ] = "oldest",
        kind: Annotated[
            list[Kind] | None,
            QueryParameter(
                description="Only these kinds of change: panel (reviews), "
                "community (votes), edit (the tool's own events); repeatable"
            ),
        ] = None,
        since: Annotated[
            datetime | None,
            QueryParameter(description="Only changes at or after this ISO-8601 time"),
        ] = None,
        until: Annotated[
            datetime | None,
            QueryParameter(description="Only changes before this ISO-8601 time"),
        ] = None,
        actor: Annotated[
            str | None,
            QueryParameter(max_length=200, description="Only changes by this actor"),
        ] = None,
    ) -> Response[HistoryList | BucketList]:
        """Oldest first by default; ``next`` links on while more follow.

        With ``bucket``, the filters other than ``order`` do not apply: a
        bucket sums every change of its time.
        """
        if read_model.tool(slug) is None:
            raise missing(slug)
        newest = order == "newest"
        if bucket is not None:
            found = read_model.history_buckets(
                slug, bucket, decode(cursor, str), limit, newest_first=newest
            )
            return paged(request, found, BucketList, bucket=bucket)
        try:
            only = HistoryFilter(
                kinds=frozenset(kind or ()),
                since=_utc("since", since),
                until=_utc("until", until),
                actor=actor,
            )
        except EmptyTimeRange as refused:
            raise ApiProblem("empty-time-range", str(refused)) from refused
        page = read_model.history_page(
            slug, decode(cursor, int), limit, newest_first=newest, only=only
        )
        return paged(request, page, HistoryList)

    @get(
        "/{slug:str}/scorecard",
        summary="The card as it stood at a time or a log position",
        responses=documented(404, *READ),
    )
    async def scorecard(
        self,
        slug: FromPath[str],
        state: State,
        read_model: NamedDependency[ReadModel],
        as_of: Annotated[
            datetime | None,
            QueryParameter(name="as_of", description="ISO-8601 time; naive means UTC"),
        ] = None,
        position: Annotated[
            int | None,
            QueryParameter(
                name="position",
                ge=0,
                le=2**62,
                description="A log position",
                schema_extra=param_bounds.POSITION,
            ),
        ] = None,
    ) -> Card:
        """Exactly one of ``as_of`` or ``position`` says when.

        A position the read model has not reached yet is waited for, as with
        ``min_position``.
        """
        if (as_of is None) == (position is None):
            raise ApiProblem(
                "scorecard-needs-one-point",
                "pass exactly one of 'as_of' (an ISO-8601 time) or 'position' "
                "(a log position)",
            )
        if position is not None:
            await reach(state, position)
        card = read_model.card_as_of(slug, at=_utc("as_of", as_of), position=position)
        if card is None:
            if read_model.tool(slug) is None:
                raise missing(slug)
            when = f"at {as_of.isoformat()}" if as_of else f"at position {position}"
            raise errors.ToolNotFound(f"tool {slug!r} was not registered yet {when}")
        return card

    @post(
        "/",
        guards=[requires("editor")],
        security=BEARER,
        summary="Register a tool (editor)",
        responses=documented(400, 401, 403, 409, 413, 415, 422),
    )
    async def register(
        self,
        request: Request[Any, Any, State],
        data: JSONBody[ToolCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """201 with ``Location``; honours ``Idempotency-Key``."""
        return await commands.create(
            request,
            data,
            f"/api/tools/{data.slug}",
            ledger.register_tool,
            data.slug,
            data.fields(),
        )

    @patch(
        "/{slug:str}",
        guards=[requires("editor")],
        security=BEARER,
        summary="Edit some of a tool's fields, with a reason (editor)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def edit(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ToolUpdate],
        ledger: NamedDependency[Ledger],
        if_match: Annotated[
            str | None,
            HeaderParameter(
                name="If-Match",
                description="The version (or card ETag) the edit is based on",
                schema_extra=commands.IF_MATCH_SCHEMA,
            ),
        ] = None,
    ) -> Response[WriteReceipt]:
        """Only the fields sent change; ``If-Match`` makes the edit conditional.

        A stale ``If-Match`` is 412; without it, an edit that races another
        write to the same tool is 409. An edit that changes nothing is 422.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        receipt = await commands.run(
            request,
            ledger.edit_tool,
            slug,
            data.changes(),
            reason=data.reason,
            expected_version=commands.if_match(request),
        )
        return commands.answer(receipt)

    @post(
        "/{slug:str}/retire",
        guards=[requires("editor")],
        security=BEARER,
        status_code=200,
        summary="Retire a tool, saying why (editor)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def retire(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[RetireOrReinstate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """The tool leaves the list and takes no new reviews or votes.

        Its card stays readable, retired since this write's position. A tool
        already retired is 409; ``If-Match`` makes it conditional (412 when
        stale); honours ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.retire_tool,
            slug,
            reason=data.reason,
        )

    @post(
        "/{slug:str}/reinstate",
        guards=[requires("editor")],
        security=BEARER,
        status_code=200,
        summary="Reinstate a retired tool, saying why (editor)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def reinstate(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[RetireOrReinstate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """The tool is listed again and takes reviews and votes.

        A tool that is not retired is 409; ``If-Match`` as for retiring;
        honours ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.reinstate_tool,
            slug,
            reason=data.reason,
        )
