"""Community votes: voter tokens, ship/skip on a tool, a side in a head-to-head."""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, delete, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api import writes
from api.problems import ApiProblem, documented
from api.schemas import ComparisonVote, ToolVote, VoterToken, WriteReceipt
from api.security import BEARER, principal_of, requires
from ledger import errors
from ledger.application import Ledger
from ledger.group_commit import VoteCommand


def _unchanged(ledger: Ledger, vote: VoteCommand) -> WriteReceipt:
    """The answer to a PUT equal to the live vote: nothing appended."""
    version = ledger.vote_version(vote.voter, vote.subject())
    return WriteReceipt(version=version, position=ledger.head_position())


async def _cast(
    request: Request[Any, Any, State], ledger: Ledger, vote: VoteCommand
) -> Response[WriteReceipt]:
    """Casts a vote; a first vote is 201, a change 200, an unchanged vote 200."""
    try:
        receipt = await writes.cast(request, vote)
    except errors.NothingChanged:
        unchanged = await anyio.to_thread.run_sync(_unchanged, ledger, vote)
        return writes.answer(unchanged)
    return writes.answer(receipt, status=201 if receipt.version == 1 else 200)


class VotersController(Controller):
    """Anonymous voter tokens."""

    path = "/api/voters"
    tags = ["votes"]

    @post(
        "/",
        summary="Get an anonymous voter token (rate-limited per client address)",
        responses=documented(429),
    )
    async def issue(self, request: Request[Any, Any, State]) -> Response[VoterToken]:
        """201 with a new voter token, shown only this once.

        Each client address may obtain ``LEDGER_VOTER_TOKENS_PER_WINDOW``
        tokens per ``LEDGER_VOTER_WINDOW_SECONDS``; beyond that 429 with
        ``Retry-After``. The window is counted in ``api.sqlite``, so it holds
        across worker processes. ``Idempotency-Key`` is ignored here: a replay
        would need the plain token kept, and tokens are only kept hashed.
        """
        state = request.app.state
        settings = state.settings
        client = request.client.host if request.client else "unknown"
        retry_after = await anyio.to_thread.run_sync(
            state.api_store.hit,
            f"voters:{client}",
            settings.voter_tokens_per_window,
            settings.voter_window_seconds,
        )
        if retry_after is not None:
            seconds = max(1, math.ceil(retry_after))
            raise ApiProblem(
                429,
                "too-many-voter-tokens",
                f"this address has had {settings.voter_tokens_per_window} voter "
                f"tokens in the last {settings.voter_window_seconds} s; retry in "
                f"{seconds} s",
                {"Retry-After": str(seconds)},
            )
        token = await anyio.to_thread.run_sync(state.tokens.create, "voter")
        return Response(
            content=VoterToken(token=token),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )


class VotesController(Controller):
    """One vote per voter per subject: cast, change, retract.

    PUT is idempotent: a body equal to the live vote appends nothing and
    answers 200 with the vote's current version and the log head as
    ``position``. A first vote answers 201; a change, or a vote cast again
    after a retraction, answers 200. The voter identity handed to the ledger
    is the token's id, which the ledger turns into a keyed hash.
    """

    path = "/api"
    tags = ["votes"]
    guards = [requires("voter")]
    security = BEARER

    @put(
        "/tools/{slug:str}/vote",
        summary="Vote ship or skip on a tool (voter)",
        responses=documented(400, 401, 403, 404, 409, 413, 422),
    )
    async def vote_tool(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ToolVote],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        principal = principal_of(request)
        vote = VoteCommand(
            writes.context(request, principal),
            principal.token_id,
            data.choice,
            tool=slug,
        )
        return await _cast(request, ledger, vote)

    @delete(
        "/tools/{slug:str}/vote",
        status_code=200,
        summary="Retract one's vote on a tool (voter)",
        responses=documented(401, 403, 404, 409),
    )
    async def retract_tool_vote(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """404 if this voter never voted on the tool; 409 if already retracted."""
        principal = principal_of(request)
        receipt = await writes.run(
            request,
            ledger.retract_vote,
            writes.context(request, principal),
            principal.token_id,
            slug,
        )
        return writes.answer(receipt)

    @put(
        "/comparisons/{a:str}/{b:str}/vote",
        summary="Pick a side in a head-to-head (voter)",
        responses=documented(400, 401, 403, 404, 409, 413, 422),
    )
    async def vote_comparison(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ComparisonVote],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        principal = principal_of(request)
        vote = VoteCommand(
            writes.context(request, principal), principal.token_id, data.pick, a=a, b=b
        )
        return await _cast(request, ledger, vote)

    @delete(
        "/comparisons/{a:str}/{b:str}/vote",
        status_code=200,
        summary="Retract one's pick in a head-to-head (voter)",
        responses=documented(401, 403, 404, 409),
    )
    async def retract_comparison_vote(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        principal = principal_of(request)
        receipt = await writes.run(
            request,
            ledger.retract_comparison_vote,
            writes.context(request, principal),
            principal.token_id,
            a,
            b,
        )
        return writes.answer(receipt)
