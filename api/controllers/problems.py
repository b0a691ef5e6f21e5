"""``/problems/{kind}``: the page behind each problem ``type``.

RFC 9457 asks that a problem's ``type`` URI, when dereferenced, explain the
kind of problem to a person; the page shows the kind's entry of
:data:`api.problem_kinds.KINDS`, the same one the API answers with.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Template

from api.problem_kinds import KINDS
from api.web.templating import not_found_page


class ProblemsController(Controller):
    """What a kind of problem means and what to do about it."""

    path = "/problems"
    include_in_schema = False

    @get("/{kind:str}", name="problems:kind", sync_to_thread=False)
    def problem_kind(self, kind: FromPath[str]) -> Template:
        found = KINDS.get(kind)
        if found is None:
            return not_found_page(
                "Unknown problem type",
                f"The API answers with no problem of kind {kind!r}.",
                [("/schema", "The API reference")],
            )
        return Template("problem.html", context={"problem": found})
