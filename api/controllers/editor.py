"""``/editor``: signing in and out of the editorial pages, and their home.

Signing in takes an API token of an editor, admin or reviewer, checks it
as the API does, and starts a server-side session (:mod:`ledger.sessions`);
the browser keeps only the session's cookie. Signing in is rate-limited per
address, as issuing voter tokens is, so the form is no faster a way to guess
tokens than the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from api.editor_sessions import (
    SIGN_IN_ROLES,
    Editor,
    Sessions,
    cleared_cookie,
    same_origin,
    session_cookie,
    signed_in,
)
from api.editorial import (
    PageRefused,
    page,
    poster,
    refusal,
    refused_response,
    visitor,
)
from api.pagination import Cursor, decode, encode, link_with
from api.security import Tokens
from projections.queries import ReadModel

SIGN_INS_PER_WINDOW = 20
SIGN_IN_WINDOW_SECONDS = 60
"""At most this many sign-in posts per client address and window."""
TOOLS_PER_PAGE = 50
MAX_TOKEN = 200
"""A token is ``vl_`` + 12 hex + 43 characters; anything far longer is not one."""

T = TypeVar("T")
Next = Annotated[str | None, QueryParameter(name="next", max_length=500)]


def local_target(target: str | None) -> str:
    """Where to go after signing in: a path of this site, else the home."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return "/editor"
    return target


def _sign_in_page(
    editor: Editor | None, target: str, error: str | None = None, status: int = 200
) -> Response[Any]:
    context = {"next": target, "error": error}
    return page(editor, "editor/sign_in.html", context, status)


class EditorController(Controller):
    """Signing in and out, and the editorial home."""

    path = "/editor"
    include_in_schema = False
    exception_handlers = {PageRefused: refused_response}

    @get("/sign-in", name="editor:sign-in")
    async def sign_in_form(
        self, request: Request[Any, Any, State], next_: Next = None
    ) -> Response[Any]:
        """The sign-in form; says who is signed in already, if someone is."""
        return _sign_in_page(await signed_in(request), local_target(next_))

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Checks the token, then starts a session and sets its cookie.

        An unknown, revoked or expired token is 401, a voter's or a
        scraper's 403, each shown on the form; too many tries from one
        address are 429 with ``Retry-After``.
        """
        state = request.app.state
        if not same_origin(request):
            raise refusal(
                403,
                "Refused: another site's form",
                "The sign-in form was sent from a page of another site.",
                [("/editor/sign-in", "Sign in here")],
            )
        client = request.client.host if request.client else "unknown"
        retry_after = await anyio.to_thread.run_sync(
            state.rate_limiter.hit,
            f"sign-in:{client}",
            SIGN_INS_PER_WINDOW,
            SIGN_IN_WINDOW_SECONDS,
        )
        form = await request.form()
        token = str(form.get("token", "")).strip()
        target = local_target(str(form.get("next", "")))
        if retry_after is not None:
            answer = _sign_in_page(
                None,
                target,
                f"Too many sign-in attempts from this address; try again in "
                f"{retry_after} s.",
                429,
            )
            answer.headers["Retry-After"] = str(retry_after)
            return answer
        tokens: Tokens = state.tokens
        principal = (
            await _off_loop(tokens.remote, tokens.verify, token)
            if token and len(token) <= MAX_TOKEN
            else None
        )
        if principal is None:
            detail = "That token is not valid: unknown, revoked, expired or mistyped."
            return _sign_in_page(None, target, detail, 401)
        if principal.role not in SIGN_IN_ROLES:
            detail = (
                f"A {principal.role} token cannot sign in to the editorial pages; "
                "use an editor, admin or reviewer token."
            )
            return _sign_in_page(None, target, detail, 403)
        sessions: Sessions = state.sessions
        session_id, _ = await _off_loop(
            sessions.remote, sessions.store().open, principal.token_id
        )
        return Redirect(
            target, status_code=303, cookies=[session_cookie(request, session_id)]
        )

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Ends the session on the server and makes the browser forget it."""
        editor, _ = await poster(request, None)
        sessions: Sessions = request.app.state.sessions
        await _off_loop(sessions.remote, sessions.store().end, editor.session_id)
        return Redirect("/", status_code=303, cookies=[cleared_cookie(request)])

    @get("/", name="editor:home")
    async def home(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        tools: Cursor = None,
    ) -> Response[Any]:
        """Who is signed in, what they may do, and a page of tools to do it to."""
        editor = await visitor(request, None)
        cards = read_model.tools_page(decode(tools, int) or 0, TOOLS_PER_PAGE)
        more = None
        if cards.next is not None:
            more = link_with(request, "tools", encode(cards.next))
        compared = read_model.comparisons_page(0, TOOLS_PER_PAGE, live=True)
        context = {
            "tools": cards.items,
            "more_tools": more,
            "comparisons": compared.items,
            "sign_out_csrf": editor.csrf("/editor/sign-out"),
        }
        return page(editor, "editor/home.html", context)


async def _off_loop(remote: bool, call: Callable[[str], T], arg: str) -> T:
    """``call(arg)``: on a worker thread when it is a round trip to a server."""
    if remote:
        return await anyio.to_thread.run_sync(call, arg)
    return call(arg)
