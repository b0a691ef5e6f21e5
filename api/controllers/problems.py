"""The pages behind problem ``type`` URIs, so a client can look a problem up."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Template

from api.pages import not_found
from api.problem_types import CATALOGUE


class ProblemsController(Controller):
    """``/problems/{kind}``: what a kind of problem means and what to do."""

    path = "/problems"
    include_in_schema = False

    @get("/{kind:str}", name="problems:kind", sync_to_thread=False)
    def problem_type(self, kind: FromPath[str]) -> Template:
        found = CATALOGUE.get(kind)
        if found is None:
            return not_found(
                "Unknown problem type",
                f"The API answers with no problem of kind {kind!r}.",
                [("/schema", "The API reference")],
            )
        return Template("problem.html", context={"problem": found})
