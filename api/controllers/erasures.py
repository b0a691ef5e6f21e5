"""``/api/erasures``: an admin erases a person's personal data (crypto-shredding).

What ``ledger erase`` does on the box, over HTTP: the ledger destroys the
person's key and appends ``Erasure.Recorded``, and from then on everything
sealed for them reads as erased. Refusals are the ledger's errors, mapped
to problems in one place (:mod:`api.problem_kinds`): a text that names no
person is 422, a person the ledger holds no data of 404, one erased
already 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api import commands
from api.erasure_schemas import ErasureCreate
from api.idempotency import StoredResponse, idempotent
from api.problem_details import documented
from api.schemas import WriteReceipt
from api.security import BEARER, requires
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.log import LoggedEvent


class ErasuresController(Controller):
    """Erasures of people's data, for admins only."""

    path = "/api/erasures"
    tags = ["erasures"]

    @post(
        "/",
        guards=[requires("admin")],
        security=BEARER,
        status_code=200,
        summary="Erase a person's personal data by destroying their key (admin)",
        responses=documented(400, 401, 403, 404, 409, 413, 415, 422),
    )
    async def erase(
        self,
        request: Request[Any, Any, State],
        data: JSONBody[ErasureCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[WriteReceipt]:
        """Cannot be undone; the reason is kept in the log, so name no one in it.

        The person's name, rationales, reasons or address read as erased
        everywhere from then on; a subscriber's subscription ends too, and
        ``position`` is then that last event's. Honours ``Idempotency-Key``.
        """

        def erase(ctx: Context, person: str, reason: str) -> Receipt:
            return ledger.erase(ctx, ledger.person_named(person), reason)

        def answer_of(receipt: Receipt | WriteReceipt) -> StoredResponse:
            return StoredResponse(200, commands.receipt_body(receipt), {})

        async def performed() -> StoredResponse:
            return answer_of(
                await commands.run(request, erase, data.person, data.reason)
            )

        def rebuilt(events: Sequence[LoggedEvent]) -> StoredResponse:
            last = events[-1]
            return answer_of(WriteReceipt(last.version, last.position))

        return await idempotent(
            request, data, commands.context(request), performed, rebuilt
        )
