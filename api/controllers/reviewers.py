"""``/api/reviewers``: enrolling the review panel."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api import commands
from api.problem_details import documented
from api.schemas import ReviewerCreate, WriteReceipt
from api.security import BEARER, requires
from ledger.application import Ledger


class ReviewersController(Controller):
    """Panel reviewers, each judging through one lens."""

    path = "/api/reviewers"
    tags = ["reviewers"]

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
        """201; honours ``Idempotency-Key``.

        No ``Location``: reviewers have no resource of their own in the
        contract; they appear in each tool's reviews. Issue the reviewer a
        token with ``ledger token create --role reviewer --reviewer HANDLE``.
        """
        return await commands.create(
            request,
            data,
            None,
            ledger.enroll_reviewer,
            data.handle,
            name=data.name,
            lens=data.lens,
        )
