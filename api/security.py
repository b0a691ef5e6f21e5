"""Bearer tokens: who is calling, and may their role do this.

Reads are public; every write carries ``Authorization: Bearer <token>``. A
guard verifies the token against the hashed token store
(:func:`ledger.auth.open_token_store`) before the handler runs, so a refused
request never reaches the ledger and appends nothing: no token or a bad one
is 401, a valid token of the wrong role is 403.

Nothing verified is cached: every request reads its token's row, so a token
revoked (``ledger token revoke``, ``DELETE /api/tokens/{id}``) or past its
expiry is refused from the next request on, by every worker (and, with a
PostgreSQL event store, by every node: the tokens live beside the log). A
token's last use is written at most once a minute, on a thread of its own,
never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from api import access_lists
from api.thread_stores import ThreadStores
from ledger.auth import (
    LAST_USE_GRANULARITY,
    Principal,
    TokenStoreBase,
    open_token_store,
)
from ledger.settings import Settings

# Roles that may act as each role; an admin may do anything an editor may,
# and read the metrics a ``metrics`` token (a scraper's) may read.
ACTS_AS = {
    "admin": frozenset({"admin"}),
    "editor": frozenset({"editor", "admin"}),
    "reviewer": frozenset({"reviewer"}),
    "voter": frozenset({"voter"}),
    "metrics": frozenset({"metrics", "admin"}),
}
_STATE_KEY = "principal"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
"""OpenAPI security requirement of the guarded (write) operations."""


class Tokens(ThreadStores[TokenStoreBase]):
    """The token store of a worker, opened once per thread where it must be.

    SQLite connections belong to the thread that opened them, and handlers
    run both on the event loop and in worker threads, so over ``auth.sqlite``
    each thread gets its own store; the PostgreSQL store is thread-safe and
    serves them all. Last uses are written by one thread of their own.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(lambda: open_token_store(settings))
        self._touches = ThreadPoolExecutor(1, thread_name_prefix="token-last-use")
        # Token id -> when this worker last queued a write of its last use.
        self._queued: dict[str, float] = {}

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid token, or None; queues its last use."""
        principal = self.store().verify(token)
        if principal is not None and principal.touch_due():
            self._queue_touch(principal.token_id)
        return principal

    def _queue_touch(self, token_id: str) -> None:
        now = time.monotonic()
        queued = self._queued.get(token_id)
        if queued is not None and now - queued < LAST_USE_GRANULARITY.total_seconds():
            return
        if len(self._queued) >= 100_000:
            self._queued.clear()
        self._queued[token_id] = now
        self._touches.submit(lambda: self.store().touch(token_id))

    def create(self, role: str, reviewer: str | None = None) -> str:
        """Issues a token; see :meth:`TokenStoreBase.create`."""
        return self.store().create(role, reviewer)

    def close(self) -> None:
        """Writes the queued last uses, then closes every thread's store.

        Call once, at shutdown.
        """
        self._touches.shutdown(wait=True)
        super().close()


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller's principal, verified once per request and remembered."""
    state = connection.scope.setdefault("state", {})
    if _STATE_KEY in state:
        known: Principal | None = state[_STATE_KEY]
        return known
    token = bearer_token(connection)
    principal = None
    if token is not None:
        tokens: Tokens = connection.app.state.tokens
        principal = tokens.verify(token)
    state[_STATE_KEY] = principal
    return principal


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Verifies the caller's token ahead, off the event loop if it is a round trip.

    A check of the PostgreSQL token store waits on the server, up to
    ``LEDGER_LOCK_TIMEOUT`` while it is out of reach; on a worker thread,
    that wait holds up this request alone, not every request of the worker.
    """
    tokens: Tokens = connection.app.state.tokens
    if tokens.remote and bearer_token(connection) is not None:
        await anyio.to_thread.run_sync(authenticate, connection)


Guard = Callable[
    [ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]
]


def demand(connection: ASGIConnection[Any, Any, Any, Any], role: str) -> Principal:
    """The caller, if its token may act as ``role``.

    Raises:
        NotAuthorizedException: No token, or one that is not valid (401).
        PermissionDeniedException: A valid token of another role (403).
    """
    if bearer_token(connection) is None:
        msg = "this request needs 'Authorization: Bearer <token>'"
        raise NotAuthorizedException(msg)
    principal = authenticate(connection)
    if principal is None:
        msg = "the bearer token is not valid (unknown, revoked, expired or malformed)"
        raise NotAuthorizedException(msg)
    allowed = ACTS_AS[role]
    if principal.role not in allowed:
        msg = (
            f"a {principal.role} token may not do this; it needs "
            f"{' or '.join(sorted(allowed))}"
        )
        raise PermissionDeniedException(msg)
    return principal


def requires(role: str) -> Guard:
    """A guard that lets through only tokens that may act as ``role``.

    Async on purpose: Litestar runs a sync guard in a worker thread, and a
    check of ``auth.sqlite`` is one indexed read, far cheaper than that
    hand-off; a check of the PostgreSQL store is handed off
    (:func:`authenticated`).
    """
    if role not in ACTS_AS:  # fails when the route is declared, not when used
        msg = f"no role {role!r}"
        raise ValueError(msg)

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        await authenticated(connection)
        demand(connection, role)

    guard.__name__ = f"requires_{role}"
    return guard


def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """App-level ``principal`` dependency: the caller, or None when anonymous."""
    return authenticate(request)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal a guard has let through (handlers behind a guard only)."""
    principal = authenticate(connection)
    if principal is None:  # pragma: no cover - the guard refuses first
        msg = "this request needs a valid bearer token"
        raise NotAuthorizedException(msg)
    return principal


async def metrics_reader(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """The guard of ``/metrics``: an allowed client network, or a token.

    A client whose address is in ``LEDGER_METRICS_ALLOW`` needs no token;
    anyone else needs a ``metrics`` (a scraper's) or ``admin`` token. The
    address is the peer the server sees, so behind a proxy list the proxy's
    or give the scraper a token.
    """
    allowed = connection.app.state.settings.metrics_allow
    client = connection.client.host if connection.client else None
    if not access_lists.allows(allowed, client):
        await authenticated(connection)
        demand(connection, "metrics")
