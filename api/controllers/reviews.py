"""``/api/tools/{slug}/reviews``: the panel's reviews; a reviewer writes their own."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from api import commands
from api.controllers.tools import missing
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Cursor, Limit, decode, paged
from api.problem_details import documented
from api.read_your_writes import READ
from api.schemas import ReviewList, ReviewPut, WriteReceipt
from api.security import BEARER, principal_of, requires
from ledger.application import Ledger
from projections.queries import ReadModel

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="The review version the change is based on",
        schema_extra=commands.IF_MATCH_SCHEMA,
    ),
]


def _own_review(request: Request[Any, Any, State], handle: str) -> None:
    principal = principal_of(request)
    if principal.reviewer != handle:
        msg = (
            f"this reviewer token writes reviews as {principal.reviewer!r} only, "
            f"not as {handle!r}"
        )
        raise PermissionDeniedException(msg)


def _review_version(ledger: Ledger, slug: str, handle: str) -> int:
    version: int = ledger.review(slug, handle)["version"]
    return version


class ReviewsController(Controller):
    """One reviewer's verdict on one tool, revised and withdrawn with reasons."""

    path = "/api/tools/{slug:str}/reviews"
    tags = ["reviews"]

    @get(
        "/",
        sync_to_thread=False,
        summary="A page of the panel's current reviews, in the order submitted",
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(404, *READ),
    )
    def list_reviews(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[ReviewList]:
        if read_model.tool(slug) is None:
            raise missing(slug)
        page = read_model.reviews_page(slug, decode(cursor, int) or 0, limit)
        return paged(request, page, ReviewList)

    @put(
        "/{handle:str}",
        guards=[requires("reviewer")],
        security=BEARER,
        summary="Submit, revise or resubmit one's review (that reviewer)",
        responses={
            **commands.FIRST_PUT,
            **documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
        },
    )
    async def put_review(
        self,
        slug: FromPath[str],
        handle: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ReviewPut],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Response[WriteReceipt]:
        """The review becomes what the body says, whatever it was before.

        A first review answers 201; a revision (which needs a ``reason``) or
        a resubmission after a withdrawal answers 200. PUT is idempotent: a
        body equal to the live review appends nothing and answers 200 with
        the review's current version and the log head as ``position``, so a
        retried PUT neither fails nor writes twice.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        _own_review(request, handle)
        write = commands.run(
            request,
            ledger.put_review,
            slug,
            handle,
            verdict=data.verdict,
            rationale=data.rationale,
            reason=data.reason,
            expected_version=commands.if_match(request),
        )
        return await commands.put(
            ledger,
            write,
            functools.partial(_review_version, ledger, slug, handle),
            location=f"/api/tools/{slug}/reviews",
        )

    @delete(
        "/{handle:str}",
        guards=[requires("reviewer")],
        security=BEARER,
        status_code=200,
        summary="Withdraw one's review, saying why (that reviewer)",
        responses=documented(400, 401, 403, 404, 409, 412, 422),
    )
    async def withdraw(
        self,
        slug: FromPath[str],
        handle: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
        reason: Annotated[
            str,
            QueryParameter(name="reason", max_length=1000, description="Why; required"),
        ] = "",
        if_match: IfMatch = None,
    ) -> Response[WriteReceipt]:
        """A withdrawn review stops counting; withdrawing it again is 409."""
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        _own_review(request, handle)
        receipt = await commands.run(
            request,
            ledger.withdraw_review,
            slug,
            handle,
            reason=reason,
            expected_version=commands.if_match(request),
        )
        return commands.answer(receipt)
