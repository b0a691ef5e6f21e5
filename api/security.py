"""Bearer tokens: who is calling, and may their role do this.

Reads are public; every write carries ``Authorization: Bearer <token>``. A
guard verifies the token against the hashed :class:`ledger.auth.TokenStore`
before the handler runs, so a refused request never reaches the ledger and
appends nothing: no token or a bad one is 401, a valid token of the wrong
role is 403.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from ledger.auth import Principal, TokenStore

# Roles that may act as each role; an admin may do anything an editor may.
ACTS_AS = {
    "admin": frozenset({"admin"}),
    "editor": frozenset({"editor", "admin"}),
    "reviewer": frozenset({"reviewer"}),
    "voter": frozenset({"voter"}),
}
_STATE_KEY = "principal"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
"""OpenAPI security requirement of the guarded (write) operations."""


class Tokens:
    """A :class:`TokenStore` per thread over one token file.

    SQLite connections belong to the thread that opened them, and handlers
    run both on the event loop and in worker threads, so each thread gets its
    own store.
    """

    def __init__(self, path: Path, secret: bytes) -> None:
        self._path = path
        self._secret = secret
        self._local = threading.local()
        self._opened: list[TokenStore] = []
        self._lock = threading.Lock()

    def _store(self) -> TokenStore:
        store: TokenStore | None = getattr(self._local, "store", None)
        if store is None:
            store = TokenStore(self._path, self._secret)
            self._local.store = store
            with self._lock:
                self._opened.append(store)
        return store

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid token, or None."""
        return self._store().verify(token)

    def create(self, role: str, reviewer: str | None = None) -> str:
        """Issues a token; see :meth:`TokenStore.create`."""
        return self._store().create(role, reviewer)

    def close(self) -> None:
        """Closes the store of every thread (call once, at shutdown)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            try:
                store.close()
            except Exception:
                continue


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


Guard = Callable[
    [ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]
]


def requires(role: str) -> Guard:
    """A guard that lets through only tokens that may act as ``role``.

    Async on purpose: Litestar runs a sync guard in a worker thread, and a
    token check is one indexed read, far cheaper than that hand-off.
    """
    allowed = ACTS_AS[role]

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        if bearer_token(connection) is None:
            msg = "this request needs 'Authorization: Bearer <token>'"
            raise NotAuthorizedException(msg)
        principal = authenticate(connection)
        if principal is None:
            msg = "the bearer token is not valid (unknown, revoked or malformed)"
            raise NotAuthorizedException(msg)
        if principal.role not in allowed:
            msg = (
                f"a {principal.role} token may not do this; it needs "
                f"{' or '.join(sorted(allowed))}"
            )
            raise PermissionDeniedException(msg)

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
