"""``/editor/tools`` and ``/editor/comparisons``: the editors' forms.

Register, edit, retire and reinstate a tool; publish a comparison, edit
its question and retire it. Each form posts to its own path, runs one
ledger command as the signed-in token's actor and answers 303 to the page
that shows the change.
An edit form carries the version it was based on: if the tool (or the
comparison) changed meanwhile, the form comes back (409) with the values
now beside those submitted, based on the new version, so one more submit
applies the edit over the other one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.editorial import (
    PageRefused,
    apply,
    done,
    form_page,
    poster,
    refusal,
    refused_response,
    submit,
    visitor,
)
from api.web.editor_forms import (
    COMPARISON_FIELDS,
    QUESTION_FIELD,
    Field,
    Form,
    field_of_slug,
    reason_field,
    tool_fields,
)
from ledger import errors, rules
from ledger.application import Ledger


async def current(read: Callable[..., dict[str, Any]], *key: str) -> dict[str, Any]:
    """What the ledger holds now (``ledger.tool``, ``.comparison``, …).

    Raises:
        PageRefused: 404 when it names nothing recorded.
    """
    try:
        return await anyio.to_thread.run_sync(read, *key)
    except errors.NotFound as missing:
        raise refusal(
            404, "Not found", str(missing), [("/editor", "Editorial home")]
        ) from missing


def _tool_form(slug: str, tool: Mapping[str, Any]) -> Form:
    return Form(
        f"Edit {tool['name']}",
        f"/editor/tools/{slug}/edit",
        "Save changes",
        [*tool_fields(with_slug=False), reason_field(required=False)],
        hidden={"version": str(tool["version"])},
        intro="A change to the category, description, entry or license needs a "
        "reason: a verdict rests on them.",
        back=f"/tools/{slug}",
    )


def _retire_form(slug: str, tool: Mapping[str, Any]) -> Form:
    return Form(
        f"Retire {tool['name']}",
        f"/editor/tools/{slug}/retire",
        "Retire the tool",
        [reason_field(required=True)],
        hidden={"version": str(tool["version"])},
        intro="A retired tool keeps its history but takes no new reviews or votes.",
        back=f"/tools/{slug}",
        danger=True,
    )


def _reinstate_form(slug: str, tool: Mapping[str, Any]) -> Form:
    return Form(
        f"Reinstate {tool['name']}",
        f"/editor/tools/{slug}/reinstate",
        "Reinstate the tool",
        [reason_field(required=True)],
        hidden={"version": str(tool["version"])},
        intro="A reinstated tool is listed again and takes reviews and votes.",
        back=f"/tools/{slug}",
    )


def _retire_comparison_form(a: str, b: str, comparison: Mapping[str, Any]) -> Form:
    return Form(
        f"Retire the comparison of {a} and {b}",
        f"/editor/comparisons/{a}/{b}/retire",
        "Retire the comparison",
        [reason_field(required=True)],
        hidden={"version": str(comparison["version"])},
        intro="A retired comparison leaves the listings; its page and history stay.",
        back=f"/compare/{a}/{b}",
        danger=True,
    )


def _question_form(a: str, b: str, comparison: Mapping[str, Any]) -> Form:
    return Form(
        f"Edit the question of {a} vs {b}",
        f"/editor/comparisons/{a}/{b}/edit",
        "Save the question",
        [QUESTION_FIELD, reason_field(required=False)],
        hidden={"version": str(comparison["version"])},
        back=f"/compare/{a}/{b}",
    )


class EditorToolsController(Controller):
    """The forms that change tools and comparisons (editors and admins)."""

    path = "/editor"
    include_in_schema = False
    exception_handlers = {PageRefused: refused_response}

    @get("/tools/new")
    async def new_tool(self, request: Request[Any, Any, State]) -> Response[Any]:
        """An empty registration form."""
        editor = await visitor(request, "editor")
        return form_page(editor, _register_form())

    @post("/tools/new", status_code=303)
    async def register(
        self, request: Request[Any, Any, State], ledger: NamedDependency[Ledger]
    ) -> Response[Any]:
        """Registers the tool; its page follows."""
        editor, values = await poster(request, "editor")
        form = _register_form().filled(values)
        slug = values.get("slug", "").strip()
        fields = {name: values.get(name, "") for name in rules.TOOL_FIELDS}
        try:
            receipt = await submit(request, editor, ledger.register_tool, slug, fields)
        except errors.LedgerError as refused:
            return form_page(editor, *form.refused(refused))
        return await done(request, receipt, f"/tools/{slug}")

    @get("/tools/{slug:str}/edit")
    async def edit_form(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """The tool's fields as they are now, and the version they are at."""
        editor = await visitor(request, "editor")
        tool = await current(ledger.tool, slug)
        return form_page(editor, _tool_form(slug, tool).filled(tool))

    @post("/tools/{slug:str}/edit", status_code=303)
    async def edit(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Changes the fields that differ, if the tool is still at the version."""
        editor, values = await poster(request, "editor")
        tool = await current(ledger.tool, slug)
        return await apply(
            request,
            editor,
            _tool_form(slug, tool).filled(values),
            values,
            ledger.edit_tool,
            slug,
            {name: values.get(name, "") for name in rules.TOOL_FIELDS},
            reason=values.get("reason", ""),
            now=lambda: current(ledger.tool, slug),
            target=f"/tools/{slug}",
        )

    @get("/tools/{slug:str}/retire")
    async def retire_form(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Asks why the tool is retired."""
        editor = await visitor(request, "editor")
        tool = await current(ledger.tool, slug)
        return form_page(editor, _retire_form(slug, tool))

    @post("/tools/{slug:str}/retire", status_code=303)
    async def retire(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Retires the tool, saying why; its page then says it is retired."""
        return await _tool_status(
            request, ledger, slug, _retire_form, ledger.retire_tool
        )

    @get("/tools/{slug:str}/reinstate")
    async def reinstate_form(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Asks why the retired tool comes back."""
        editor = await visitor(request, "editor")
        tool = await current(ledger.tool, slug)
        return form_page(editor, _reinstate_form(slug, tool))

    @post("/tools/{slug:str}/reinstate", status_code=303)
    async def reinstate(
        self,
        slug: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Reinstates the tool, saying why; it takes reviews and votes again."""
        return await _tool_status(
            request, ledger, slug, _reinstate_form, ledger.reinstate_tool
        )

    @get("/comparisons/new")
    async def new_comparison(self, request: Request[Any, Any, State]) -> Response[Any]:
        """An empty form to publish a comparison of two registered tools."""
        editor = await visitor(request, "editor")
        return form_page(editor, _publish_form())

    @post("/comparisons/new", status_code=303)
    async def publish(
        self, request: Request[Any, Any, State], ledger: NamedDependency[Ledger]
    ) -> Response[Any]:
        """Publishes the comparison; its page follows."""
        editor, values = await poster(request, "editor")
        form = _publish_form().filled(values)
        a, b = values.get("a", "").strip(), values.get("b", "").strip()
        try:
            receipt = await submit(
                request,
                editor,
                ledger.publish_comparison,
                a,
                b,
                question=values.get("question", ""),
            )
        except errors.LedgerError as refused:
            at = field_of_slug(refused, {"a": a, "b": b}, ("a", "b"))
            return form_page(editor, *form.refused(refused, at))
        return await done(request, receipt, f"/compare/{a}/{b}")

    @get("/comparisons/{a:str}/{b:str}/edit")
    async def question_form(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """The comparison's question as it is now."""
        editor = await visitor(request, "editor")
        comparison = await current(ledger.comparison, a, b)
        return form_page(editor, _question_form(a, b, comparison).filled(comparison))

    @post("/comparisons/{a:str}/{b:str}/edit", status_code=303)
    async def edit_question(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Changes the question, if the comparison is still at the version."""
        editor, values = await poster(request, "editor")
        comparison = await current(ledger.comparison, a, b)
        return await apply(
            request,
            editor,
            _question_form(a, b, comparison).filled(values),
            values,
            ledger.edit_comparison,
            a,
            b,
            question=values.get("question", ""),
            reason=values.get("reason", ""),
            now=lambda: current(ledger.comparison, a, b),
            target=f"/compare/{a}/{b}",
        )

    @get("/comparisons/{a:str}/{b:str}/retire")
    async def retire_comparison_form(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Asks why the comparison is retired."""
        editor = await visitor(request, "editor")
        comparison = await current(ledger.comparison, a, b)
        return form_page(editor, _retire_comparison_form(a, b, comparison))

    @post("/comparisons/{a:str}/{b:str}/retire", status_code=303)
    async def retire_comparison(
        self,
        a: FromPath[str],
        b: FromPath[str],
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
    ) -> Response[Any]:
        """Retires the comparison; it leaves the listings, its page stays."""
        editor, values = await poster(request, "editor")
        comparison = await current(ledger.comparison, a, b)
        return await apply(
            request,
            editor,
            _retire_comparison_form(a, b, comparison).filled(values),
            values,
            ledger.retire_comparison,
            a,
            b,
            reason=values.get("reason", ""),
            now=lambda: current(ledger.comparison, a, b),
            target=f"/compare/{a}/{b}",
            shown=[QUESTION_FIELD, Field("retired", "Retired")],
        )


async def _tool_status(
    request: Request[Any, Any, State],
    ledger: Ledger,
    slug: str,
    make_form: Callable[[str, Mapping[str, Any]], Form],
    command: Callable[..., Any],
) -> Response[Any]:
    """Retires or reinstates a tool from its form, saying why.

    A tool changed since the form was drawn brings the form back with what
    changed, as an edit does.
    """
    editor, values = await poster(request, "editor")
    tool = await current(ledger.tool, slug)
    return await apply(
        request,
        editor,
        make_form(slug, tool).filled(values),
        values,
        command,
        slug,
        reason=values.get("reason", ""),
        now=lambda: current(ledger.tool, slug),
        target=f"/tools/{slug}",
        shown=[*tool_fields(with_slug=False), Field("retired", "Retired")],
    )


def _register_form() -> Form:
    return Form(
        "Register a tool",
        "/editor/tools/new",
        "Register",
        tool_fields(with_slug=True),
        intro="Name, vendor and category are required; the rest may follow later.",
    )


def _publish_form() -> Form:
    return Form(
        "Publish a comparison",
        "/editor/comparisons/new",
        "Publish",
        list(COMPARISON_FIELDS),
        intro="Two registered tools, and the question the comparison answers.",
    )
