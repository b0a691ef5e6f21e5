"""``Idempotency-Key``: a retried create appends once and replays its answer.

The first request with a key claims it (per token) and its answer is kept;
a retry with the same body gets that answer again, marked
``Idempotent-Replayed: true``, and appends nothing. The keys are the node's
(:mod:`api.idempotency_store`), so a retry that lands on another worker
still replays; with a PostgreSQL event store they are every node's
(:mod:`api.postgres_idempotency`), so a retry that lands on another node
does too.

A claim also survives the death of its request. While the request runs it
holds the claim's lock, which the kernel drops if the process dies
(:mod:`api.claim_locks`), or PostgreSQL once the connection holding it
ends. A retry that finds a claim with no answer and no holder has an
orphan: it takes the claim over (so a second retry gets 409, not a second
write) and asks the log, the one record of what happened. If
the orphaned request's events are there, its answer is rebuilt from them and
replayed; if not, nothing was appended, and the retry runs the command
itself, under its own request id. Either way the write happens once. (With
PostgreSQL, a COMMIT the dead process had already sent completes on the
server a moment later; a retry within that moment would miss it, and the
create it then runs is refused as a duplicate, not appended twice.)
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response

from api.idempotency_store import IdempotencyStore, KeyStore, Orphan, StoredResponse
from api.problem_details import ApiProblem
from api.security import principal_of
from ledger import errors
from ledger.application import Ledger
from ledger.context import Context
from ledger.log import LoggedEvent, of_request

__all__ = ["IdempotencyStore", "StoredResponse", "fingerprint", "idempotent"]

MAX_KEY = 255
JSON = "application/json"

log = logging.getLogger("api.idempotency")


def fingerprint(method: str, path: str, data: Any) -> str:
    """What makes two requests the same request: method, path and body."""
    digest = hashlib.sha256()
    digest.update(f"{method} {path}\n".encode())
    digest.update(msgspec.json.encode(data))
    return digest.hexdigest()


async def idempotent(
    request: Request[Any, Any, Any],
    data: Any,
    ctx: Context,
    perform: Callable[[], Awaitable[StoredResponse]],
    rebuild: Callable[[Sequence[LoggedEvent]], StoredResponse],
) -> Response[Any]:
    """Runs ``perform`` once per ``Idempotency-Key`` and replays its answer.

    Without the header the request simply runs. With it, the first request
    claims the key (per token); a retry with the same body gets the first
    answer again and appends nothing; the same key with a different body is
    a 422; a retry while the first is still running is a 409. A request the
    ledger refuses releases its key, because it appended nothing and its
    retry deserves a fresh try. A request that died, or failed in a way that
    may have appended, leaves an orphan that the next retry resolves from the
    log (see the module's docstring).

    Args:
        request: The request, whose token scopes the key.
        data: The decoded body; a retry must send the same one.
        ctx: The actor and request id the command stamps on its events.
        perform: Runs the command and says what to answer.
        rebuild: The same answer, made from the events the command appended,
            for a retry that finds them in the log.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(await perform())
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise ApiProblem(
            "invalid-idempotency-key",
            f"Idempotency-Key must be 1-{MAX_KEY} characters",
        )
    store: KeyStore = request.app.state.idempotency
    ledger: Ledger = request.app.state.ledger
    scope = principal_of(request).token_id
    after = await anyio.to_thread.run_sync(ledger.head_position)
    claim = await anyio.to_thread.run_sync(
        store.claim,
        scope,
        key,
        fingerprint(request.method, request.url.path, data),
        ctx.request_id,
        after,
    )
    if claim.mismatch:
        raise ApiProblem(
            "idempotency-key-reused",
            f"Idempotency-Key {key!r} was already used for a different request; "
            "use a new key for a new request",
        )
    if claim.in_flight:
        raise ApiProblem(
            "idempotency-key-in-flight",
            f"a request with Idempotency-Key {key!r} is still being processed; "
            "retry shortly",
            {"Retry-After": "1"},
        )
    if claim.replay is not None:
        return _response(claim.replay, replayed=True)
    held = _Held(store, ledger, scope, key, ctx, after)
    # Once claimed, the command and the storing of its answer run to the end
    # even if this request is cancelled, so the claim never outlives them.
    task = asyncio.ensure_future(held.carry_out(claim.orphan, perform, rebuild))
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)


@dataclass(frozen=True)
class _Held:
    """A key this request holds: what it runs and how it lets go."""

    store: KeyStore
    ledger: Ledger
    scope: str
    key: str
    ctx: Context
    after: int

    async def carry_out(
        self,
        orphan: Orphan | None,
        perform: Callable[[], Awaitable[StoredResponse]],
        rebuild: Callable[[Sequence[LoggedEvent]], StoredResponse],
    ) -> Response[Any]:
        try:
            if orphan is not None:
                found = await self._appended(orphan)
                if found:
                    stored = rebuild(found)
                    await self._complete(stored)
                    log.info(
                        "idempotency key recovered from the log",
                        extra={"orphan_request_id": orphan.request_id},
                    )
                    return _response(stored, replayed=True)
                await anyio.to_thread.run_sync(
                    self.store.adopt,
                    self.scope,
                    self.key,
                    self.ctx.request_id,
                    self.after,
                )
            stored = await perform()
        except (errors.LedgerError, ApiProblem):
            await anyio.to_thread.run_sync(self.store.release, self.scope, self.key)
            raise
        except BaseException:
            await anyio.to_thread.run_sync(self.store.abandon, self.scope, self.key)
            raise
        await self._complete(stored)
        return _response(stored)

    async def _appended(self, orphan: Orphan) -> list[LoggedEvent]:
        """The orphaned request's events, from the log alone."""
        if not orphan.request_id:
            return []
        find = functools.partial(
            of_request,
            self.ledger.recorder,
            orphan.request_id,
            actor=self.ctx.actor,
            after=orphan.after,
        )
        return await anyio.to_thread.run_sync(find)

    async def _complete(self, stored: StoredResponse) -> None:
        try:
            await anyio.to_thread.run_sync(
                self.store.complete, self.scope, self.key, stored
            )
        except self.store.errors:
            # The write stands; the claim is an orphan that the log resolves.
            log.warning("could not store an idempotent answer", exc_info=True)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Marks a shielded task's failure as seen; its awaiter may have left."""
    if not task.cancelled():
        task.exception()


def _response(stored: StoredResponse, *, replayed: bool = False) -> Response[Any]:
    headers = dict(stored.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=stored.body, status_code=stored.status, media_type=JSON, headers=headers
    )
