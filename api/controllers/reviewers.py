"""``/api/reviewers``: the review panel; enrolling, editing and retiring reviewers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api import commands
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Cursor, Limit, decode, paged
from api.prebuilt import encode
from api.problem_details import documented
from api.read_your_writes import READ
from api.schemas import (
    RetireOrReinstate,
    ReviewerCreate,
    ReviewerList,
    ReviewerUpdate,
    WriteReceipt,
)
from api.security import BEARER, requires
from ledger import errors
from ledger.application import Ledger
from projections.models import PanelMember
from projections.queries import ReadModel


class ReviewersController(Controller):
    """Panel reviewers, each judging through one lens."""

    path = "/api/reviewers"
    tags = ["reviewers"]

    @get(
        "/",
        sync_to_thread=False,
        summary="A page of the active panel's reviewers, in the order enrolled",
        cache=True,
        response_headers=LINK_HEADER,
        responses=documented(*READ),
    )
    def list_reviewers(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[ReviewerList]:
        """Retired reviewers are left out; each stays readable at its own URL."""
        page = read_model.panel_page(decode(cursor, int) or 0, limit)
        return paged(request, page, ReviewerList)

    @get(
        "/{handle:str}",
        sync_to_thread=False,
        summary="A reviewer, retired or not, with an ETag",
        responses=documented(404, *READ),
    )
    def reviewer(
        self, handle: FromPath[str], read_model: NamedDependency[ReadModel]
    ) -> Response[PanelMember]:
        """A retired reviewer says since when and why.

        The ETag is ``"handle:version:position"``; ``If-Match`` on PATCH and
        retire accepts it, or the bare ``version``.
        """
        member = read_model.panel_member(handle)
        if member is None:
            raise errors.ReviewerNotFound(f"no reviewer {handle!r}")
        etag = f'"{member.handle}:{member.version}:{member.position}"'
        return Response(
            content=encode(member),  # type: ignore[arg-type]
            media_type="application/json",
            headers={"ETag": etag},
        )

    @post(
        "/",
        guards=[requires("admin")],
        security=BEARER,
        summary="Enroll a panel reviewer (admin)",
        responses=documented(400, 401, 403, 409, 413, 415, 422),
    )
    async def enroll(
        self,
        request: Request[Any, Any, State],
        data: JSONBody[ReviewerCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """201 with ``Location``; honours ``Idempotency-Key``.

        Issue the reviewer a token with ``ledger token create --role reviewer
        --reviewer HANDLE``.
        """
        return await commands.create(
            request,
            data,
            f"/api/reviewers/{data.handle}",
            ledger.enroll_reviewer,
            data.handle,
            name=data.name,
            lens=data.lens,
        )

    @patch(
        "/{handle:str}",
        guards=[requires("admin")],
        security=BEARER,
        summary="Rename a reviewer or change their lens, with a reason (admin)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def edit(
        self,
        handle: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ReviewerUpdate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """Only the fields sent change; a retired reviewer is 409.

        A stale ``If-Match`` is 412; without it, an edit that races another
        write to the reviewer is 409. An edit that changes nothing is 422.
        Honours ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.edit_reviewer,
            handle,
            data.changes(),
            reason=data.reason,
        )

    @post(
        "/{handle:str}/retire",
        guards=[requires("admin")],
        security=BEARER,
        status_code=200,
        summary="Retire a reviewer, saying why (admin)",
        responses=documented(400, 401, 403, 404, 409, 412, 413, 415, 422),
    )
    async def retire(
        self,
        handle: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[RetireOrReinstate],
        ledger: NamedDependency[Ledger],
        if_match: commands.IfMatch = None,
    ) -> Response[WriteReceipt]:
        """The reviewer leaves the panel and reviews no more.

        Their reviews stand as they are. A reviewer already retired is 409;
        ``If-Match`` makes it conditional (412 when stale); honours
        ``Idempotency-Key``.
        """
        del if_match  # declared for OpenAPI; parsed by commands.if_match
        return await commands.change(
            request,
            data,
            ledger.retire_reviewer,
            handle,
            reason=data.reason,
        )
