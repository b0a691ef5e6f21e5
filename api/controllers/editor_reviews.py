"""``/editor/tools/{slug}/review``: a reviewer's own review, as forms.

A reviewer token is tied to one handle, so these pages need no handle in
the path: a signed-in reviewer submits, revises (saying why) and withdraws
(saying why) their own review, and nobody else's. The form asks for what
the review's state calls for, as ``PUT /api/tools/{slug}/reviews/{handle}``
does: a first verdict, a revision of a live one, or a resubmission after a
withdrawal. A rationale whose reviewer has been erased shows as erased.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.controllers.editor_tools import current
from api.editor_sessions import Editor
from api.editorial import (
    STALE,
    PageRefused,
    apply,
    done,
    form_page,
    poster,
    refused_response,
    submit,
    version_of,
    visitor,
)
from api.web.editor_forms import REVIEW_FIELDS, Form, reason_field
from ledger import errors
from ledger.application import Ledger
from ledger.personal_data import ERASED, reviewer_person


def _handle(editor: Editor) -> str:
    handle = editor.principal.reviewer
    assert handle is not None, "a reviewer token always names its handle"
    return handle


def _shown(ledger: Ledger, slug: str, handle: str) -> dict[str, Any]:
    """``ledger.review``, with the rationale as it may be shown now (blocking).

    The ledger keeps aggregates built across requests, their text opened
    when they were loaded; so whether the reviewer's key still lives is
    looked up now, and an erased reviewer's rationale shows as erased. (A
    ledger written before sealing has no keys at all, and nothing erased.)
    """
    review = ledger.review(slug, handle)
    if ledger.keyring.erased(reviewer_person(handle)):
        review = {**review, "rationale": ERASED}
    return review


async def _review(ledger: Ledger, slug: str, handle: str) -> dict[str, Any] | None:
    """The reviewer's review of the tool as it is now, or None if never given."""
    try:
        return await anyio.to_thread.run_sync(_shown, ledger, slug, handle)
    except errors.ReviewNotFound:
        return None


def _review_form(
    slug: str, tool: Mapping[str, Any], review: Mapping[str, Any] | None
) -> Form:
    """The form the review's state calls for."""
    if review is None or review["withdrawn"]:
        title, fields, hidden = f"Review {tool['name']}", list(REVIEW_FIELDS), {}
        intro = "Your verdict and the reasoning behind it."
        if review is not None:
            hidden = {"version": str(review["version"])}
            intro = "You withdrew your review; this gives a new verdict."
    else:
        title = f"Revise your review of {tool['name']}"
        fields = [*REVIEW_FIELDS, reason_field(required=True)]
        hidden = {"version": str(review["version"])}
        intro = "A revision keeps the earlier verdict in the history, with your reason."
    return Form(
        title,
        f"/editor/tools/{slug}/review",
        "Save the review",
        fields,
        hidden=hidden,
        intro=intro,
        back=f"/tools/{slug}",
    )


def _withdraw_form(
    slug: str, tool: Mapping[str, Any], review: Mapping[str, Any]
) -> Form:
    return Form(
        f"Withdraw your review of {tool['name']}",
        f"/editor/tools/{slug}/review/withdraw",
        "Withdraw the review",
        [reason_field(required=True)],
        hidden={"version": str(review["version"])},
        intro="A withdrawn review stops counting in the panel share; its history "
        "stays.",
        back=f"/tools/{slug}",
        danger=True,
    )


class EditorReviewsController(Controller):
    """A reviewer's forms for their own review of a tool."""

    path = "/editor/tools/{slug:str}/review"
    include_in_schema = False
    exception_handlers = {PageRefused: refused_response}

    @get("/")
    async def review_form(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """A first review, or the live one to revise."""
        editor = await visitor(request, "reviewer")
        tool = await current(ledger.tool, slug)
        review = await _review(ledger, slug, _handle(editor))
        form = _review_form(slug, tool, review)
        if review is not None and not review["withdrawn"]:
            form.filled({k: str(v) for k, v in review.items()})
        return form_page(editor, form)

    @post("/", status_code=303)
    async def put_review(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Submits, resubmits or revises the review; the tool's page follows."""
        editor, values = await poster(request, "reviewer")
        handle = _handle(editor)
        tool = await current(ledger.tool, slug)
        review = await _review(ledger, slug, handle)
        form = _review_form(slug, tool, review).filled(values)
        if "version" in values:
            form.hidden["version"] = values["version"]
        try:
            receipt = await submit(
                request,
                editor,
                ledger.put_review,
                slug,
                handle,
                verdict=values.get("verdict", ""),
                rationale=values.get("rationale", ""),
                reason=values.get("reason", ""),
                expected_version=version_of(values),
            )
        except errors.StaleVersion as refused:
            now = await _review(ledger, slug, handle)
            assert now is not None, "a stale version is of a review that exists"
            form = _review_form(slug, tool, now).filled(values)
            form.refused(refused)
            form.hidden["version"] = str(now["version"])
            return form_page(editor, form.stale_against(now, values), STALE)
        except errors.LedgerError as refused:
            return form_page(editor, *form.refused(refused))
        return await done(request, receipt, f"/tools/{slug}")

    @get("/withdraw")
    async def withdraw_form(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Asks why the review is withdrawn."""
        editor = await visitor(request, "reviewer")
        tool = await current(ledger.tool, slug)
        review = await current(functools.partial(_shown, ledger), slug, _handle(editor))
        return form_page(editor, _withdraw_form(slug, tool, review))

    @post("/withdraw", status_code=303)
    async def withdraw(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Withdraws the review, saying why; the tool's page follows."""
        editor, values = await poster(request, "reviewer")
        handle = _handle(editor)
        tool = await current(ledger.tool, slug)
        review = await current(functools.partial(_shown, ledger), slug, handle)
        return await apply(
            request,
            editor,
            _withdraw_form(slug, tool, review).filled(values),
            values,
            ledger.withdraw_review,
            slug,
            handle,
            reason=values.get("reason", ""),
            now=lambda: current(functools.partial(_shown, ledger), slug, handle),
            target=f"/tools/{slug}",
            shown=[*REVIEW_FIELDS],
        )
