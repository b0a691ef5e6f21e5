"""``/api/tools``: cards, their history and as-of scorecards; register and edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ASGIApp

from api import commands
from api.prebuilt import NOT_MODIFIED, card_etag, prebuilt_response
from api.problem_details import ApiProblem, documented
from api.read_your_writes import READ, MinPosition, reach
from api.schemas import HistoryList, ToolCreate, ToolList, ToolUpdate, WriteReceipt
from api.security import BEARER, requires
from ledger import errors
from ledger.application import Ledger
from projections.models import Card
from projections.queries import ReadModel


def missing(slug: str) -> errors.ToolNotFound:
    """The refusal of a read that names no registered tool."""
    return errors.ToolNotFound(f"no tool {slug!r}")


class ToolsController(Controller):
    """Tools and their scorecards."""

    path = "/api/tools"
    tags = ["tools"]

    @get(
        "/",
        sync_to_thread=False,
        summary="Every tool's current card",
        responses=documented(*READ),
    )
    def list_tools(self, read_model: NamedDependency[ReadModel]) -> ToolList:
        return ToolList(items=read_model.tools())

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
        summary="Every event that changed the card, with the figures around it",
        responses=documented(404, *READ),
    )
    def history(
        self, slug: FromPath[str], read_model: NamedDependency[ReadModel]
    ) -> HistoryList:
        if read_model.tool(slug) is None:
            raise missing(slug)
        return HistoryList(items=read_model.history(slug))

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
                name="position", ge=0, le=2**62, description="A log position"
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
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        card = read_model.card_as_of(slug, at=as_of, position=position)
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
        responses=documented(400, 401, 403, 409, 413, 422),
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
        responses=documented(400, 401, 403, 404, 409, 412, 413, 422),
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
