"""Submitting ledger commands: what every write handler shares.

A write handler names a ledger command and its arguments; this module runs
it in the worker's writer thread as the caller (a :class:`ledger.context.Context`
with the token's actor and the request id), reads ``If-Match``, and turns the
:class:`ledger.application.Receipt` into the ``{version, position}`` answer,
so handlers stay a few lines long and the rules of the HTTP contract live in
one place.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Concatenate, ParamSpec

import anyio.to_thread
import msgspec
from litestar import Request, Response
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter

from api import metrics
from api.idempotency import StoredResponse, idempotent
from api.problem_details import ApiProblem
from api.schemas import WriteReceipt
from api.security import principal_of
from api.writer_thread import WriterThread
from ledger import errors
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.group_commit import VoteCommand
from ledger.log import LoggedEvent

P = ParamSpec("P")
JSON = "application/json"
# Versions and positions are below 2**62: eighteen digits, nineteen at most.
_IF_MATCH = re.compile(r'^(?:W/)?"?(?:[a-z0-9-]+:)?(\d{1,18})(?::\d{1,19})?"?$')
IF_MATCH_SCHEMA: dict[str, Any] = {
    "type": "string",
    "one_of": None,
    "pattern": r'^(?:\*|(?:W/)?"?(?:[a-z0-9-]+:)?[0-9]{1,18}(?::[0-9]{1,19})?"?)$',
}
"""What :func:`if_match` accepts, for OpenAPI: ``*``, a version, or an ETag.

Given as ``schema_extra`` so that the document states it while the handler
keeps refusing anything else with its own ``invalid-if-match`` problem. The
handlers declare the header ``str | None`` (absent is None), which Litestar
documents as a string or null; a header has no null, so the schema is a
string alone."""

Command = Callable[Concatenate[Context, P], Receipt]

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="The version (or ETag) the change is based on; optional, "
        "a stale one is 412",
        schema_extra=IF_MATCH_SCHEMA,
    ),
]
"""``If-Match`` as a write handler declares it, for OpenAPI; :func:`if_match`
parses it."""

FIRST_PUT = {201: ResponseSpec(WriteReceipt, description="Created: the first version")}
"""The OpenAPI entry of the 201 a PUT answers the first time (see :func:`put`)."""


def request_id(request: Request[Any, Any, Any]) -> str:
    """The request's correlation id (set by the request observer)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def context(request: Request[Any, Any, Any]) -> Context:
    """The actor and correlation id stamped on the events this request appends."""
    return Context(actor=principal_of(request).actor, request_id=request_id(request))


async def run(
    request: Request[Any, Any, Any],
    command: Command[P],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Receipt:
    """Runs ``command(context, *args, **kwargs)`` in the writer thread."""
    writer: WriterThread = request.app.state.writer
    call = functools.partial(command, context(request), *args, **kwargs)
    receipt = await writer.run(call)
    metrics.EVENTS_APPENDED.labels(command=command.__name__).inc()
    return receipt


def vote(
    request: Request[Any, Any, Any],
    choice: str,
    *,
    tool: str | None = None,
    a: str = "",
    b: str = "",
) -> VoteCommand:
    """The caller's vote: on ``tool``, or in the head-to-head of ``a`` and ``b``.

    The voter identity is the token's id, which the ledger turns into a keyed
    hash, so no token reaches the log.
    """
    voter = principal_of(request).token_id
    return VoteCommand(context(request), voter, choice, tool=tool, a=a, b=b)


async def cast(request: Request[Any, Any, Any], vote: VoteCommand) -> Receipt:
    """Casts a vote through the writer, which may append it with others."""
    writer: WriterThread = request.app.state.writer
    receipt = await writer.cast(vote)
    command = "cast_vote" if vote.tool is not None else "cast_comparison_vote"
    metrics.EVENTS_APPENDED.labels(command=command).inc()
    return receipt


def receipt_body(receipt: Receipt | WriteReceipt) -> bytes:
    """The encoded ``{version, position}`` of a receipt."""
    answer = WriteReceipt(version=receipt.version, position=receipt.position)
    return msgspec.json.encode(answer)


def answer(
    receipt: Receipt | WriteReceipt,
    *,
    status: int = 200,
    location: str | None = None,
) -> Response[WriteReceipt]:
    """The ``{version, position}`` answer of a write."""
    headers = {"Location": location} if location else {}
    return Response(
        content=receipt_body(receipt),  # type: ignore[arg-type]
        status_code=status,
        media_type=JSON,
        headers=headers,
    )


async def create(
    request: Request[Any, Any, Any],
    data: Any,
    location: str | None,
    command: Command[P],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response[Any]:
    """Runs a create command once per ``Idempotency-Key``; answers 201.

    The answer depends only on the request and on what the command appended,
    so a retry after a crash rebuilds it from the log (see
    :func:`api.idempotency.idempotent`).

    Args:
        request: The request, whose token scopes the key.
        data: The decoded body; a retry must send the same one.
        location: Where the created resource is read, if it has a path.
        command: The ledger command; the caller's context is passed first.
        *args: The command's other arguments.
        **kwargs: The command's keyword arguments.
    """
    headers = {"Location": location} if location else {}
    return await _once(request, data, 201, headers, command, *args, **kwargs)


async def change(
    request: Request[Any, Any, Any],
    data: Any,
    command: Callable[..., Receipt],
    *args: Any,
    **kwargs: Any,
) -> Response[Any]:
    """Runs a command on an existing aggregate once per ``Idempotency-Key``; 200.

    As :func:`create`, for the editorial commands that append one event to
    what exists (a retirement, an edit): a retry replays the first answer
    instead of being refused as retiring twice or changing nothing. The
    command is conditional on the request's ``If-Match``, if it has one.
    """
    expected = if_match(request)
    return await _once(
        request, data, 200, {}, command, *args, expected_version=expected, **kwargs
    )


async def _once(
    request: Request[Any, Any, Any],
    data: Any,
    status: int,
    headers: dict[str, str],
    command: Command[P],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response[Any]:
    """Runs ``command`` once per ``Idempotency-Key``, answering ``status``."""

    def answer_of(receipt: Receipt | WriteReceipt) -> StoredResponse:
        return StoredResponse(status, receipt_body(receipt), headers)

    async def performed() -> StoredResponse:
        return answer_of(await run(request, command, *args, **kwargs))

    def rebuilt(events: Sequence[LoggedEvent]) -> StoredResponse:
        # The command appends to one aggregate; the receipt is its last event's.
        last = events[-1]
        return answer_of(WriteReceipt(version=last.version, position=last.position))

    return await idempotent(request, data, context(request), performed, rebuilt)


async def put(
    ledger: Ledger,
    write: Awaitable[Receipt],
    current_version: Callable[[], int],
    *,
    location: str | None = None,
) -> Response[WriteReceipt]:
    """The answer of an idempotent PUT of a review or a vote.

    The first version answers 201 (with ``location``), a later one 200. A
    body equal to what is recorded appends nothing and answers 200 with
    ``current_version()`` and the log head as ``position``, so a retried PUT
    neither fails nor writes twice.
    """
    try:
        receipt = await write
    except errors.NothingChanged:

        def unchanged() -> WriteReceipt:
            return WriteReceipt(current_version(), ledger.head_position())

        return answer(await anyio.to_thread.run_sync(unchanged))
    if receipt.version == 1:
        return answer(receipt, status=201, location=location)
    return answer(receipt)


def if_match(request: Request[Any, Any, Any]) -> int | None:
    """The version an ``If-Match`` header expects, or None when absent or ``*``.

    Accepts a bare version (``3``), a quoted one (``"3"``) or a card's ETag
    (``"slug:3:57"``), whose middle part is the version.
    """
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    found = _IF_MATCH.match(header.strip())
    if found is None:
        shown = header if len(header) <= 40 else header[:40] + "…"
        raise ApiProblem(
            "invalid-if-match",
            f"If-Match must be a version number or a card ETag, not {shown!r}",
        )
    return int(found.group(1))
