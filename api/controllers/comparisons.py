"""``/api/comparisons``: head-to-heads of two tools, with the reviewer split.

The list leaves retired comparisons out; a retired one stays readable at its
URL, and says since when and why.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ASGIApp

from api import commands
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Cursor, Limit, decode, paged
from api.prebuilt import NOT_MODIFIED, content_etag, prebuilt_response
from api.problem_details import documented
from api.read_your_writes import READ, MinPosition, reach
from api.schemas import (
    ComparisonCreate,
    ComparisonList,
    ComparisonUpdate,
    RetireOrReinstate,
    WriteReceipt,
)
from api.security import BEARER, requires
from ledger import errors
from ledger.application import Ledger
from projections.models import ComparisonView
from projections.queries import ReadModel


class ComparisonsController(Controller):
    """Published comparisons and their pages' data."""

    path = "/api/comparisons"
    tags = ["comparisons"]

    @get(
        "/",
        sync_to_thread=False,
        summary="A page of the live comparisons, in the order published",
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(*READ),
    )
    def list_comparisons(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        tool: Annotated[
            str | None,
            QueryParameter(max_length=64, description="Only this tool's comparisons"),
        ] = None,
    ) -> Response[ComparisonList]:
        """Retired comparisons are left out; each stays readable at its own URL."""
        page = read_model.comparisons_page(
            decode(cursor, int) or 0, limit, tool=tool, live=True
        )
        return paged(request, page, ComparisonList)

    @get(
        "/{a:str}/{b:str}",
        summary="Both cards, the reviewer split and the head-to-head tally",
        responses={
            **prebuilt_response(ComparisonView),
            **NOT_MODIFIED,
            **documented(404, *READ),
        },
    )
    async def comparison(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        min_position: MinPosition = None,
    ) -> ASGIApp:
        """Ordered as asked: ``/a/b`` and ``/b/a`` are the same comparison.

        Encoded once per read-model position; the ETag is a digest of the body.
        """
        state = request.app.state
        if min_position:
            await reach(state, min_position)
        read_model: ReadModel = state.read_model
        entry = state.encoded.view(
            ("comparison", a, b),
            read_model.position(),
            lambda: read_model.comparison(a, b),
            lambda _, body: content_etag(body),
        )
        if entry is None:
            raise errors.ComparisonNotFound(f"no comparison of {a!r} and {b!r}")
        return entry.answer(request)

    @post(
        "/",
        guards=[requires("editor")],
        security=BEARER,
        summary="Publish a comparison of two registered tools (editor)",
        responses=documented(400, 401, 403, 404, 409, 413, 415, 422),
    )
    async def publish(
        self,
        request: Request[Any, Any, State],
        data: JSONBody[ComparisonCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """201 with ``Location``; honours ``Idempotency-Key``."""
        return await commands.create(
            request,
            data,
            f"/api/comparisons/{data.a}/{data.b}",
            ledger.publish_comparison,
            data.a,
            data.b,
            question=data.question,
        )

    @patch(
        "/{a:str}/{b:str}",
        guards=[requires("editor")],
        security=BEARER,
        summary="Change a comparison's question, with a reason (editor)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def edit(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ComparisonUpdate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """Either order names the comparison; a retired one is 409.

        ``If-Match`` names the comparison's version (412 when stale); an edit
        that races another is 409, one that changes nothing 422. Honours
        ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.edit_comparison,
            a,
            b,
            question=data.question,
            reason=data.reason,
        )

    @post(
        "/{a:str}/{b:str}/retire",
        guards=[requires("editor")],
        security=BEARER,
        status_code=200,
        summary="Retire a comparison, saying why (editor)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def retire(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[RetireOrReinstate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """The comparison leaves the list and takes no more picks.

        Its page stays readable, retired since this write's position. One
        already retired is 409; ``If-Match`` makes it conditional (412 when
        stale); honours ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.retire_comparison,
            a,
            b,
            reason=data.reason,
        )
