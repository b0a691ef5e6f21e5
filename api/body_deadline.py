"""A deadline on reading a request's body, which granian does not have.

granian bounds how long a request's headers may take (``ledger serve`` sets
``LEDGER_HEADER_TIMEOUT``), but once they are in, a body that stalls
mid-upload would hold its connection and its handler for ever. This
middleware gives the whole body ``LEDGER_BODY_TIMEOUT`` seconds from the
first read: a body not in by then is answered 408 (``body-timeout``), with
``Connection: close``, since the rest of it may still be on its way.

A body that breaks off (the client hung up, or its chunked framing was
bad) is answered 400 rather than the 500 Litestar would make of it.

Only the body is timed: once its last chunk is in, later reads (Litestar
waits on one for the client's disconnect while it streams an answer) pass
straight through.
"""

from __future__ import annotations

import asyncio

from litestar.exceptions import ClientException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from api.problem_details import ApiProblem


class BodyDeadline:
    """ASGI middleware: the request body must arrive within ``seconds``.

    Args:
        app: The application to wrap.
        seconds: Time allowed for the whole body, from the first read of it.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seconds = self.seconds
        deadline: float | None = None
        complete = False

        async def timed_receive() -> ReceiveMessage:
            nonlocal deadline, complete
            if complete:
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise ApiProblem(
                    "body-timeout",
                    f"the request body did not arrive within {seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.disconnect":
                # The body broke off: the client left, or its framing was
                # bad (granian reports a chunk size that is not hex this
                # way). Litestar would call that a 500.
                raise ClientException(
                    "the request body ended before it was complete",
                    headers={"Connection": "close"},
                )
            complete = not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
