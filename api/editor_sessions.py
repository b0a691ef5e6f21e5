"""Who is signed in to the editorial pages, and whether a form post is theirs.

The pages take no bearer header: a person signs in once with a token
(``/editor/sign-in``) and the browser then carries only a session cookie
(:mod:`ledger.sessions`). Every request re-reads the session and its token,
as the API re-reads a token: a session signed out, idle, past its end, or
whose token was revoked or expired, is refused from the next request on.

A form post must also prove it came from a page this session was shown:
each form carries a CSRF field, an HMAC of the form's purpose (its path)
keyed with the session's secret, and a post from another site's origin is
refused before that. The cookie is ``SameSite=Lax`` besides.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from litestar import Request
from litestar.datastructures import Cookie

from api.security import ACTS_AS, Tokens
from api.thread_stores import ThreadStores
from ledger.auth import Principal
from ledger.sessions import LIFETIME, SessionStoreBase, open_session_store
from ledger.settings import Settings

COOKIE = "ledger_session"
CSRF_FIELD = "csrf"
SIGN_IN_ROLES = frozenset({"admin", "editor", "reviewer"})
"""Roles that may sign in to the pages; voters and scrapers use the API."""


class Sessions(ThreadStores[SessionStoreBase]):
    """The session store of a worker, held as :class:`api.security.Tokens` is."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(lambda: open_session_store(settings))


@dataclass(frozen=True)
class Editor:
    """A signed-in person: the token they act for and their session.

    Attributes:
        principal: The token's principal; its actor is stamped on events.
        session_id: The cookie's value, to sign out with.
        csrf_secret: The key of this session's CSRF fields.
    """

    principal: Principal
    session_id: str
    csrf_secret: str

    def may(self, role: str) -> bool:
        """Whether the token may act as ``role`` (see ``ACTS_AS``)."""
        return self.principal.role in ACTS_AS[role]

    def csrf(self, purpose: str) -> str:
        """The CSRF field of the form whose purpose (path) is ``purpose``."""
        return csrf_token(self.csrf_secret, purpose)

    def csrf_matches(self, purpose: str, given: str | None) -> bool:
        """Whether ``given`` is this session's CSRF field for ``purpose``."""
        return given is not None and hmac.compare_digest(
            self.csrf(purpose).encode(), given.encode()
        )


def csrf_token(secret: str, purpose: str) -> str:
    """HMAC-SHA256 of ``purpose`` keyed with a session's secret, in hex."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _lookup(request: Request[Any, Any, Any], session_id: str) -> Editor | None:
    state = request.app.state
    sessions: Sessions = state.sessions
    session = sessions.store().find(session_id)
    if session is None:
        return None
    tokens: Tokens = state.tokens
    token = tokens.store().get(session.token_id)
    if token is None or token.state() != "live" or token.role not in SIGN_IN_ROLES:
        return None
    principal = Principal(token.id, token.role, token.reviewer, token.last_used_at)
    return Editor(principal, session_id, session.csrf_secret)


async def signed_in(request: Request[Any, Any, Any]) -> Editor | None:
    """The person signed in on this request, or None.

    Off the event loop when the stores are a round trip away (PostgreSQL).
    """
    session_id = request.cookies.get(COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    sessions: Sessions = request.app.state.sessions
    if sessions.remote:
        return await anyio.to_thread.run_sync(_lookup, request, session_id)
    return _lookup(request, session_id)


def own_origin(request: Request[Any, Any, Any]) -> str:
    """``scheme://host[:port]`` of this server, as the request reached it."""
    return f"{request.url.scheme}://{request.url.netloc}"


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """Whether a post may have come from this site's own pages.

    A browser names the page's origin (``Origin``) on every form post, and
    says ``Sec-Fetch-Site``; either naming another site refuses the post. A
    post with neither (a script, not a browser) still needs the CSRF field.
    """
    if request.headers.get("sec-fetch-site", "same-origin") not in (
        "same-origin",
        "none",
    ):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin == own_origin(request)


def session_cookie(
    request: Request[Any, Any, Any], value: str, *, max_age: int | None = None
) -> Cookie:
    """The cookie that carries a session id: script cannot read it.

    ``Secure`` when the request came over TLS, so that a plain-HTTP
    development server still works.
    """
    return Cookie(
        key=COOKIE,
        value=value,
        path="/",
        max_age=int(LIFETIME.total_seconds()) if max_age is None else max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    """The cookie that makes the browser forget its session id."""
    return session_cookie(request, "", max_age=0)
