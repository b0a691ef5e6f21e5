"""The plumbing every write handler shares.

A write handler names a ledger command; this module runs it off the event
loop with the caller's :class:`ledger.Context`, turns its
:class:`ledger.Receipt` into the ``{version, position}`` answer, honours
``Idempotency-Key`` and reads ``If-Match``. Handlers stay a few lines long and
the rules of the HTTP contract live in one place.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

import anyio.to_thread
import msgspec
from litestar import Request, Response

from api import metrics
from api.problems import ApiProblem
from api.schemas import WriteReceipt
from api.store import ApiStore, StoredResponse
from api.writer import Writer
from ledger.application import Receipt
from ledger.auth import Principal
from ledger.context import Context
from ledger.group_commit import VoteCommand

P = ParamSpec("P")
JSON = "application/json"
MAX_IDEMPOTENCY_KEY = 255
_IF_MATCH = re.compile(r'^(?:W/)?"?(?:[a-z0-9-]+:)?(\d+)(?::\d+)?"?$')


def request_id(request: Request[Any, Any, Any]) -> str:
    """The request's correlation id (set by the request middleware)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def context(request: Request[Any, Any, Any], principal: Principal) -> Context:
    """The actor and correlation id stamped on the events this request appends."""
    return Context(actor=principal.actor, request_id=request_id(request))


async def run(
    request: Request[Any, Any, Any],
    command: Callable[P, Receipt],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Receipt:
    """Runs a ledger command in the worker's writer thread; counts its event."""
    writer: Writer = request.app.state.writer
    receipt = await writer.run(functools.partial(command, *args, **kwargs))
    metrics.EVENTS_APPENDED.labels(command=command.__name__).inc()
    return receipt


async def cast(request: Request[Any, Any, Any], vote: VoteCommand) -> Receipt:
    """Casts a vote through the writer, which may append it with others."""
    writer: Writer = request.app.state.writer
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
        raise ApiProblem(
            400,
            "invalid-if-match",
            f"If-Match must be a version number or a card ETag, not {header!r}",
        )
    return int(found.group(1))


def _fingerprint(request: Request[Any, Any, Any], data: Any) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(msgspec.json.encode(data))
    return digest.hexdigest()


async def idempotent(
    request: Request[Any, Any, Any],
    principal: Principal,
    data: Any,
    create: Callable[[], Awaitable[StoredResponse]],
) -> Response[Any]:
    """Runs ``create`` once per ``Idempotency-Key`` and replays its answer.

    Without the header the request simply runs. With it, the first request
    claims the key (per token); a retry with the same body gets the first
    answer again with ``Idempotent-Replayed: true`` and appends nothing; the
    same key with a different body is a 422; a retry while the first is still
    running is a 409. A request that fails releases its key, because it
    appended nothing and its retry deserves a fresh try.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(await create())
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiProblem(
            400,
            "invalid-idempotency-key",
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters",
        )
    store: ApiStore = request.app.state.api_store
    scope = principal.token_id
    claim = await anyio.to_thread.run_sync(
        store.claim, scope, key, _fingerprint(request, data)
    )
    if claim.mismatch:
        raise ApiProblem(
            422,
            "idempotency-key-reused",
            f"Idempotency-Key {key!r} was already used for a different request; "
            "use a new key for a new request",
        )
    if claim.in_flight:
        raise ApiProblem(
            409,
            "idempotency-key-in-flight",
            f"a request with Idempotency-Key {key!r} is still being processed; "
            "retry shortly",
            {"Retry-After": "1"},
        )
    if claim.replay is not None:
        return _response(claim.replay, replayed=True)
    try:
        stored = await create()
    except BaseException:
        await anyio.to_thread.run_sync(store.release, scope, key)
        raise
    await anyio.to_thread.run_sync(store.complete, scope, key, stored)
    return _response(stored)


def stored(
    receipt: Receipt, *, status: int = 201, location: str | None = None
) -> StoredResponse:
    """A create's answer in the form :func:`idempotent` keeps."""
    headers = {"Location": location} if location else {}
    return StoredResponse(status, receipt_body(receipt), headers)


def _response(stored: StoredResponse, *, replayed: bool = False) -> Response[Any]:
    headers = dict(stored.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=stored.body, status_code=stored.status, media_type=JSON, headers=headers
    )
