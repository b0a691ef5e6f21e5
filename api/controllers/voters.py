"""``/api/voters``: anonymous voter tokens, rate-limited per client address."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, post
from litestar.datastructures import State

from api.problem_details import ApiProblem, documented
from api.schemas import VoterToken


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
            state.rate_limiter.hit,
            f"voters:{client}",
            settings.voter_tokens_per_window,
            settings.voter_window_seconds,
        )
        if retry_after is not None:
            raise ApiProblem(
                "too-many-voter-tokens",
                f"this address has had {settings.voter_tokens_per_window} voter "
                f"tokens in the last {settings.voter_window_seconds} s; retry in "
                f"{retry_after} s",
                {"Retry-After": str(retry_after)},
            )
        token = await anyio.to_thread.run_sync(state.tokens.create, "voter")
        return Response(
            content=VoterToken(token=token),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )
