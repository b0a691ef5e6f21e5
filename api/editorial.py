"""What every editorial page handler shares: who may post, running, answering.

A page handler names its form and its ledger command; this module checks
the session, the origin and the CSRF field of a post, runs the command in
the worker's writer thread as the signed-in token's actor (as
:func:`api.commands.run` does for the API), and answers as a page: the
form again with the refusal, or a 303 to the page that shows the change
once the read model has reached it (Post/Redirect/Get).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from api import commands, metrics
from api.editor_sessions import CSRF_FIELD, Editor, same_origin, signed_in
from api.problem_details import ApiProblem
from api.read_your_writes import reach
from api.web.editor_forms import Field, Form
from api.writer_thread import WriterThread
from ledger import errors
from ledger.application import Receipt
from ledger.context import Context

STALE = 409
"""The status of a form based on a version someone else has since replaced."""
NO_STORE = {"Cache-Control": "no-store"}
"""Editorial pages are one person's and hold a CSRF field: never cached."""


class PageRefused(Exception):
    """A request the editorial pages refuse with a page, not a form.

    Args:
        response: The page to answer with.
    """

    def __init__(self, response: Response[Any]) -> None:
        super().__init__(response.status_code)
        self.response = response


def refused_response(_: Request[Any, Any, Any], exc: PageRefused) -> Response[Any]:
    """The controllers' handler of :class:`PageRefused`."""
    return exc.response


def refusal(
    status: int, title: str, detail: str, links: list[tuple[str, str]]
) -> PageRefused:
    """A refusal page of ``status`` saying what was wrong and where to go."""
    page = Template(
        "editor/refused.html",
        context={"status": status, "title": title, "detail": detail, "links": links},
        status_code=status,
        headers=NO_STORE,
    )
    return PageRefused(page)


def sign_in_link(request: Request[Any, Any, Any]) -> str:
    """The sign-in page, coming back to this page once signed in."""
    return "/editor/sign-in?next=" + quote(request.url.path, safe="/")


async def visitor(request: Request[Any, Any, Any], role: str | None) -> Editor:
    """The signed-in person who may see this page; else sign in first.

    ``role`` None lets any signed-in role in.

    Raises:
        PageRefused: A 303 to sign in, or 403 for a role that may not.
    """
    editor = await signed_in(request)
    if editor is None:
        raise PageRefused(Redirect(sign_in_link(request), status_code=303))
    _check_role(editor, role)
    return editor


def _check_role(editor: Editor, role: str | None) -> None:
    if role is not None and not editor.may(role):
        needs = "a reviewer" if role == "reviewer" else "an editor or admin"
        raise refusal(
            403,
            "Not for this role",
            f"You are signed in with a {editor.principal.role} token; this page "
            f"needs {needs} token.",
            [("/editor", "Editorial home"), ("/", "All tools")],
        )


async def poster(
    request: Request[Any, Any, Any], role: str | None
) -> tuple[Editor, dict[str, str]]:
    """The signed-in sender of a form post and its values, once all checks pass.

    The post must come from this site, carry this session's CSRF field for
    this form, and its token must act as ``role``. Textarea line ends are
    made ``\\n``, as the log keeps them.

    Raises:
        PageRefused: 403 for a post from elsewhere, without a session, or
            whose CSRF field is missing or another session's.
    """
    if not same_origin(request):
        raise refusal(
            403,
            "Refused: another site's form",
            "This form was sent from a page of another site; nothing was changed.",
            [("/editor", "Editorial home")],
        )
    editor = await signed_in(request)
    if editor is None:
        raise refusal(
            403,
            "Not signed in",
            "Your session has ended (or you are not signed in); nothing was "
            "changed. Sign in, then send the form again.",
            [(sign_in_link(request), "Sign in")],
        )
    form = await request.form()
    values = {
        key: value.replace("\r\n", "\n")
        for key, value in form.items()
        if isinstance(value, str)
    }
    if not editor.csrf_matches(request.url.path, values.get(CSRF_FIELD)):
        raise refusal(
            403,
            "Refused: the form is not from this session",
            "The form's CSRF field is missing or belongs to another session; "
            "nothing was changed. Open the form again and resend it.",
            [(request.url.path, "Open the form again")],
        )
    _check_role(editor, role)
    return editor, values


def page(
    editor: Editor | None,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> Template:
    """An editorial page, never cached, knowing who is signed in."""
    return Template(
        template,
        context={"editor": editor, **context},
        status_code=status,
        headers=NO_STORE,
    )


def form_page(editor: Editor, form: Form, status: int = 200) -> Template:
    """``form`` with this session's CSRF field for it."""
    form.hidden = {**form.hidden, CSRF_FIELD: editor.csrf(form.action)}
    return page(editor, "editor/form.html", {"form": form}, status)


async def submit(
    request: Request[Any, Any, Any],
    editor: Editor,
    command: Any,
    *args: Any,
    **kwargs: Any,
) -> Receipt:
    """Runs ``command(context, *args, **kwargs)`` in the writer thread.

    The context's actor is the signed-in token's, as the API stamps it.
    """
    writer: WriterThread = request.app.state.writer
    context = Context(
        actor=editor.principal.actor, request_id=commands.request_id(request)
    )
    call = functools.partial(command, context, *args, **kwargs)
    receipt: Receipt = await writer.run(call)
    metrics.EVENTS_APPENDED.labels(command=command.__name__).inc()
    return receipt


async def done(
    request: Request[Any, Any, Any], receipt: Receipt, target: str
) -> Redirect:
    """A 303 to ``target`` once the read model shows the change.

    Should the read model lag past the wait, the page still follows; it
    then shows the change a moment later.
    """
    with contextlib.suppress(ApiProblem):
        await reach(request.app.state, receipt.position)
    return Redirect(target, status_code=303)


def version_of(values: dict[str, str]) -> int | None:
    """The version a form was based on (its hidden field), if it says one."""
    text = values.get("version", "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


async def apply(
    request: Request[Any, Any, Any],
    editor: Editor,
    form: Form,
    values: dict[str, str],
    command: Any,
    *args: Any,
    now: Callable[[], Awaitable[Mapping[str, Any]]],
    target: str,
    shown: list[Field] | None = None,
    **kwargs: Any,
) -> Response[Any]:
    """Runs a change posted from ``form`` against the version the form says.

    A refusal brings the form back with its detail beside its field. If
    the thing changed since the form was drawn, the form comes back based
    on the version ``now`` reads, showing those values beside the ones
    submitted, so one more submit applies the change over the other one.

    Args:
        shown: The fields to compare when stale; the form's own by default.
    """
    form.hidden["version"] = values.get("version", "")
    try:
        receipt = await submit(
            request,
            editor,
            command,
            *args,
            expected_version=version_of(values),
            **kwargs,
        )
    except errors.StaleVersion as refused:
        current = await now()
        form.refused(refused)
        form.hidden["version"] = str(current["version"])
        return form_page(editor, form.stale_against(current, values, shown), STALE)
    except errors.LedgerError as refused:
        return form_page(editor, *form.refused(refused))
    return await done(request, receipt, target)
