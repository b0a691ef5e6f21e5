"""Community votes: ship/skip on a tool, a side in a head-to-head."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, delete, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api import commands
from api.problem_details import documented
from api.schemas import ComparisonVote, ToolVote, WriteReceipt
from api.security import BEARER, principal_of, requires
from ledger.application import Ledger
from ledger.group_commit import VoteCommand


async def _cast(
    request: Request[Any, Any, State], ledger: Ledger, vote: VoteCommand
) -> Response[WriteReceipt]:
    current = functools.partial(ledger.vote_version, vote.voter, vote.subject())
    return await commands.put(ledger, commands.cast(request, vote), current)


class VotesController(Controller):
    """One vote per voter per subject: cast, change, retract.

    PUT is idempotent: a body equal to the live vote appends nothing and
    answers 200 with the vote's current version and the log head as
    ``position``. A first vote answers 201; a change, or a vote cast again
    after a retraction, answers 200.
    """

    path = "/api"
    tags = ["votes"]
    guards = [requires("voter")]
    security = BEARER

    @put(
        "/tools/{slug:str}/vote",
        summary="Vote ship or skip on a tool (voter)",
        responses={
            **commands.FIRST_PUT,
            **documented(400, 401, 403, 404, 409, 413, 415, 422),
        },
    )
    async def vote_tool(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ToolVote],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        vote = commands.vote(request, data.choice, tool=slug)
        return await _cast(request, ledger, vote)

    @delete(
        "/tools/{slug:str}/vote",
        status_code=200,
        summary="Retract one's vote on a tool (voter)",
        responses=documented(400, 401, 403, 404, 409),
    )
    async def retract_tool_vote(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """404 if this voter never voted on the tool; 409 if already retracted."""
        voter = principal_of(request).token_id
        receipt = await commands.run(request, ledger.retract_vote, voter, slug)
        return commands.answer(receipt)

    @put(
        "/comparisons/{a:str}/{b:str}/vote",
        summary="Pick a side in a head-to-head (voter)",
        responses={
            **commands.FIRST_PUT,
            **documented(400, 401, 403, 404, 409, 413, 415, 422),
        },
    )
    async def vote_comparison(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        data: JSONBody[ComparisonVote],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        vote = commands.vote(request, data.pick, a=a, b=b)
        return await _cast(request, ledger, vote)

    @delete(
        "/comparisons/{a:str}/{b:str}/vote",
        status_code=200,
        summary="Retract one's pick in a head-to-head (voter)",
        responses=documented(400, 401, 403, 404, 409),
    )
    async def retract_comparison_vote(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        voter = principal_of(request).token_id
        receipt = await commands.run(
            request, ledger.retract_comparison_vote, voter, a, b
        )
        return commands.answer(receipt)
