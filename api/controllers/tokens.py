"""``/api/tokens``: admins issue, list and revoke API tokens.

What ``ledger token`` does on the box, over HTTP. The handlers run on
worker threads: each reads or writes the token store through that thread's
own connection to ``auth.sqlite``, or the PostgreSQL store's pool
(:class:`api.security.Tokens`).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Cursor, Limit, decode, paged
from api.problem_details import ApiProblem, documented
from api.security import BEARER, Tokens, requires
from api.token_schemas import (
    IssuedToken,
    Role,
    TokenCreate,
    TokenList,
    TokenView,
    issued,
    view_of,
)
from ledger import durations
from ledger.application import Ledger
from ledger.auth import TokenAlreadyRevoked, TokenNotFound
from projections.models import Page

TokenId = Annotated[
    str, PathParameter(max_length=64, description="The token's public id")
]
NO_STORE = {"Cache-Control": "no-store"}


def _tokens(request: Request[Any, Any, State]) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def _missing(token_id: str) -> ApiProblem:
    return ApiProblem("token-not-found", f"no token has the id {token_id!r}")


class TokensController(Controller):
    """API tokens, for admins only."""

    path = "/api/tokens"
    tags = ["tokens"]
    guards = [requires("admin")]
    security = BEARER

    @get(
        "/",
        sync_to_thread=True,
        summary="A page of the tokens, in the order issued (admin)",
        response_headers=LINK_HEADER,
        responses=documented(400, 401, 403, 422),
    )
    def list_tokens(
        self,
        request: Request[Any, Any, State],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        role: Annotated[
            Role | None, QueryParameter(description="Only tokens of this role")
        ] = None,
    ) -> Response[TokenList]:
        """Never a secret nor a digest: ids, roles, times and states."""
        found = _tokens(request).store().page(decode(cursor, int) or 0, limit + 1, role)
        following = found[limit - 1].seq if len(found) > limit else None
        page = Page(items=[view_of(info) for info in found[:limit]], next=following)
        response = paged(request, page, TokenList)
        response.headers.update(NO_STORE)
        return response

    @get(
        "/{token_id:str}",
        sync_to_thread=True,
        summary="One token (admin)",
        responses=documented(401, 403, 404, 422),
    )
    def token(
        self, request: Request[Any, Any, State], token_id: TokenId
    ) -> Response[TokenView]:
        info = _tokens(request).store().get(token_id)
        if info is None:
            raise _missing(token_id)
        return Response(view_of(info), headers=NO_STORE)

    @post(
        "/",
        sync_to_thread=True,
        summary="Issue a token; the answer shows it this once (admin)",
        responses=documented(400, 401, 403, 404, 413, 415, 422),
    )
    def issue(
        self,
        request: Request[Any, Any, State],
        data: JSONBody[TokenCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[IssuedToken]:
        """201 with ``Location``; a reviewer token needs an enrolled reviewer.

        ``Idempotency-Key`` is ignored: a replay would need the plain token
        kept, and tokens are only kept hashed.
        """
        try:
            lifetime = (
                None if data.expires_in is None else durations.parse(data.expires_in)
            )
        except ValueError as refused:
            raise ApiProblem("invalid-duration", f"expires_in: {refused}") from None
        if (data.role == "reviewer") != (data.reviewer is not None):
            raise ApiProblem(
                "reviewer-token-mismatch",
                "a reviewer token names the reviewer it writes as, and only a "
                "reviewer token names one",
            )
        if data.reviewer is not None:
            ledger.reviewer(data.reviewer)
        token, info = (
            _tokens(request)
            .store()
            .issue(data.role, data.reviewer, expires_in=lifetime)
        )
        return Response(
            issued(token, info),
            status_code=201,
            headers={"Location": f"/api/tokens/{info.id}", **NO_STORE},
        )

    @delete(
        "/{token_id:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Revoke a token; every worker refuses it from then on (admin)",
        responses=documented(401, 403, 404, 409, 422),
    )
    def revoke(
        self, request: Request[Any, Any, State], token_id: TokenId
    ) -> Response[TokenView]:
        """200 with the token as revoked; 409 if it was revoked before."""
        try:
            info = _tokens(request).store().revoke_known(token_id)
        except TokenNotFound:
            raise _missing(token_id) from None
        except TokenAlreadyRevoked as refused:
            raise ApiProblem("token-already-revoked", str(refused)) from None
        return Response(view_of(info), headers=NO_STORE)
