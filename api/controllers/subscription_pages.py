"""``/subscriptions``: the pages of subscribing, confirming and unsubscribing.

Every page's footer posts its address here. A mailed link opens a page with
a button, never a change: mail scanners fetch links before people do, so
only a POST confirms or unsubscribes. The subscribe and confirm forms are
refused when another site's page posts them, as the sign-in form is; the
one-click unsubscribe is not, because RFC 8058 has mail providers post it
from their servers, without cookies or origin, and the signed link alone
says who unsubscribes.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Template

from api import subscribing
from api.editor_sessions import same_origin
from api.problem_details import ApiProblem
from api.problem_kinds import of_ledger_error
from api.subscriber_links import CONFIRM_PATH, UNSUBSCRIBE_PATH, InvalidLink
from ledger import errors

NO_STORE = {"Cache-Control": "no-store"}
MAX_TOKEN = 200
"""A link's token is about 80 characters; anything far longer is not one."""
HOME = [("/", "All tools")]

TokenQuery = Annotated[str | None, QueryParameter(name="token")]


def _page(
    outcome: str,
    title: str,
    detail: str,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Template:
    context = {
        "outcome": outcome,
        "status": status,
        "title": title,
        "detail": detail,
        "form": form,
        "links": HOME,
    }
    return Template(
        "subscription.html",
        context=context,
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def _refused_page(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A refused request as a page: the problem's status and words."""
    if isinstance(exc, ApiProblem):
        return _page(
            exc.kind.name,
            exc.kind.title,
            exc.detail,
            status=exc.kind.status,
            headers=exc.headers,
        )
    assert isinstance(exc, errors.LedgerError)
    kind = of_ledger_error(type(exc))
    title = "This link does not work" if isinstance(exc, InvalidLink) else kind.title
    return _page("refused", title, str(exc), status=kind.status)


def _token(given: str | None) -> str:
    """The token of a link, or :class:`InvalidLink` for none or a mangled one."""
    if not given or len(given) > MAX_TOKEN:
        msg = "this link has no valid token; open the link from the mail exactly"
        raise InvalidLink(msg)
    return given


def _cross_site() -> Template:
    return _page(
        "cross-site",
        "Refused: another site's form",
        "This form was sent from a page of another site; use the form on this site.",
        status=403,
    )


class SubscriptionPagesController(Controller):
    """The subscribe form's answer and the pages of the mailed links."""

    path = "/subscriptions"
    include_in_schema = False
    exception_handlers = {
        errors.LedgerError: _refused_page,
        ApiProblem: _refused_page,
    }

    @post("/", status_code=200)
    async def subscribe(self, request: Request[Any, Any, State]) -> Template:
        """Asks for the digest at the form's address; says to check the inbox."""
        if not same_origin(request):
            return _cross_site()
        form = await request.form()
        await subscribing.subscribe(request, str(form.get("address", "")))
        return _page(
            "asked",
            "Check your inbox",
            subscribing.ASKED + " The link works for three days.",
        )

    @get("/confirm")
    async def confirm_form(
        self, request: Request[Any, Any, State], token: TokenQuery = None
    ) -> Template:
        """The confirmation link's page: a button; fetching it confirms nothing."""
        checked = _token(token)
        subscribing.links_of(request).confirmed(checked)
        return _page(
            "confirm",
            "Confirm your subscription",
            "Press the button to get Weekly AI Tool Verdicts at the address this "
            "link was mailed to.",
            form={
                "action": CONFIRM_PATH,
                "fields": [("token", checked)],
                "button": "Confirm my subscription",
            },
        )

    @post("/confirm", status_code=200)
    async def confirm(self, request: Request[Any, Any, State]) -> Template:
        """Confirms the subscription of the form's token."""
        if not same_origin(request):
            return _cross_site()
        form = await request.form()
        await subscribing.confirm(request, _token(str(form.get("token", ""))))
        return _page(
            "confirmed",
            "You are subscribed",
            "Weekly AI Tool Verdicts will come once a week. Every mail has a "
            "link to unsubscribe with one click.",
        )

    @get("/unsubscribe")
    async def unsubscribe_form(
        self, request: Request[Any, Any, State], token: TokenQuery = None
    ) -> Template:
        """The unsubscribe link's page: a button that posts the one-click form."""
        checked = _token(token)
        subscribing.links_of(request).unsubscribing(checked)
        return _page(
            "unsubscribe",
            "Unsubscribe",
            "Press the button and no more Weekly AI Tool Verdicts will be mailed "
            "to the address this link was mailed to.",
            form={
                "action": f"{UNSUBSCRIBE_PATH}?token={checked}",
                "fields": [("List-Unsubscribe", "One-Click")],
                "button": "Unsubscribe",
            },
        )

    @post("/unsubscribe", status_code=200)
    async def unsubscribe(
        self, request: Request[Any, Any, State], token: TokenQuery = None
    ) -> Template:
        """RFC 8058 one-click unsubscribe: the link's token alone; idempotent.

        The body (``List-Unsubscribe=One-Click``) is not required: whatever
        posts to the signed link means to unsubscribe.
        """
        await subscribing.unsubscribe(request, _token(token))
        return _page(
            "unsubscribed",
            "You are unsubscribed",
            "No more Weekly AI Tool Verdicts will be mailed to that address. "
            "Changed your mind? Subscribe again with the form below.",
        )
