"""The editorial forms: their fields, and a refused command shown beside one.

A form is a list of :class:`Field`; a page renders it (``editor/form.html``)
with the values entered, so a refused post comes back as it was sent. The
ledger's refusal becomes the same problem the JSON API would answer
(:func:`api.problem_details.to_problem`), and its detail is placed beside
the field it is about: by the kind of refusal where that says (a bad slug
is the slug's), else by the field the detail names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from api.problem_details import Problem, to_problem
from ledger import errors, rules


@dataclass(frozen=True)
class Field:
    """One input of a form.

    Attributes:
        name: The form field's name, as the command takes it.
        label: What a person reads beside it.
        kind: ``text``, ``textarea`` or ``select``.
        required: Whether the browser insists on it (the ledger decides).
        limit: The most characters it takes (``maxlength``).
        options: The choices of a ``select``.
        hint: A line of help under the label.
        value: What it holds: as entered, or the current value.
        error: The refusal's detail, when it concerns this field.
    """

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    limit: int = rules.MAX_NAME
    options: tuple[str, ...] = ()
    hint: str = ""
    value: str = ""
    error: str | None = None


def tool_fields(*, with_slug: bool) -> list[Field]:
    """Every field of a tool, as registering (with the slug) or editing takes it."""
    found = [
        Field(
            "slug",
            "Slug",
            required=True,
            limit=64,
            hint="Lowercase letters, digits and inner hyphens; it never changes.",
        )
    ]
    hints = {"entry": "Price or plan to start with", "license": "e.g. Apache-2.0"}
    for name in rules.TOOL_FIELDS:
        found.append(
            Field(
                name,
                name.capitalize(),
                kind="textarea" if name == "description" else "text",
                required=name in rules.REQUIRED_TOOL_FIELDS,
                limit=rules.TOOL_FIELD_LIMITS[name],
                hint=hints.get(name, ""),
            )
        )
    return found if with_slug else found[1:]


def reason_field(*, required: bool) -> Field:
    """Why the change is made; the log keeps it beside the change."""
    hint = "Kept in the log beside the change." + ("" if required else " Optional.")
    return Field(
        "reason",
        "Reason",
        kind="textarea",
        required=required,
        limit=rules.MAX_REASON,
        hint=hint,
    )


REVIEW_FIELDS = (
    Field("verdict", "Verdict", kind="select", required=True, options=rules.VERDICTS),
    Field(
        "rationale",
        "Rationale",
        kind="textarea",
        required=True,
        limit=rules.MAX_RATIONALE,
    ),
)
COMPARISON_FIELDS = (
    Field("a", "First tool (slug)", required=True, limit=64),
    Field("b", "Second tool (slug)", required=True, limit=64),
    Field("question", "Question", required=True, hint="What the comparison asks."),
)
QUESTION_FIELD = Field("question", "Question", required=True)

# Refusals whose kind says which field they are about.
_FIELD_OF: tuple[tuple[type[errors.LedgerError], str], ...] = (
    (errors.InvalidSlug, "slug"),
    (errors.ToolAlreadyRegistered, "slug"),
    (errors.ReasonRequired, "reason"),
    (errors.InvalidVerdict, "verdict"),
    (errors.InvalidRationale, "rationale"),
    (errors.SameTool, "b"),
)


def field_of(refusal: errors.LedgerError, names: Sequence[str]) -> str | None:
    """The field among ``names`` that ``refusal`` is about, if one is.

    By the kind of refusal first; else the field named first in its detail
    ("name must not be empty", "missing tool field(s): name, vendor", or a
    slug quoted in "no tool 'x'" when a form has fields holding slugs).
    """
    for kind, name in _FIELD_OF:
        if isinstance(refusal, kind) and name in names:
            return name
    detail = str(refusal)
    named = [
        (found.start(), name)
        for name in names
        if len(name) > 2  # "a" and "b" are words of many a detail
        and (found := re.search(rf"\b{re.escape(name)}\b", detail)) is not None
    ]
    if named:
        return min(named)[1]
    return None


def field_of_slug(
    refusal: errors.LedgerError, values: Mapping[str, str], names: Iterable[str]
) -> str | None:
    """The field whose value is the slug a refusal quotes (``no tool 'x'``)."""
    detail = str(refusal)
    for name in names:
        value = values.get(name, "")
        if value and f"'{value}'" in detail:
            return name
    return None


@dataclass
class Form:
    """What ``editor/form.html`` renders.

    Attributes:
        title: The page's heading.
        action: The path the form posts to; also its CSRF purpose.
        submit: The button's words.
        fields: The inputs, with their values and errors.
        hidden: Hidden inputs (the CSRF field, the version edited).
        intro: A line under the heading.
        back: Where "Cancel" leads.
        problem: The refusal of the last post, if it was refused.
        stale: For a post based on an old version: each field's value now
            and as submitted.
        danger: Whether the command is one to think twice about (retire).
    """

    title: str
    action: str
    submit: str
    fields: list[Field]
    hidden: dict[str, str] = field(default_factory=dict)
    intro: str = ""
    back: str = "/editor"
    problem: Problem | None = None
    stale: list[dict[str, Any]] | None = None
    danger: bool = False

    def filled(self, values: Mapping[str, str]) -> Form:
        """The form with ``values`` in its fields (those it has)."""
        self.fields = [
            replace(item, value=values.get(item.name, item.value))
            for item in self.fields
        ]
        return self

    def refused(
        self, refusal: errors.LedgerError, at: str | None = None
    ) -> tuple[Form, int]:
        """The form showing ``refusal``, and the status to answer with.

        The detail goes beside the field it concerns (``at``, or as
        :func:`field_of` finds it); the problem's title and detail also
        head the form, for a refusal about no one field.
        """
        problem, _ = to_problem(refusal)
        names = [item.name for item in self.fields]
        where = at or field_of(refusal, names)
        self.problem = problem
        self.fields = [
            replace(item, error=problem.detail) if item.name == where else item
            for item in self.fields
        ]
        return self, problem.status

    def stale_against(
        self,
        current: Mapping[str, Any],
        submitted: Mapping[str, str],
        shown: Sequence[Field] | None = None,
    ) -> Form:
        """Shows each field's value now beside the one submitted.

        ``shown`` are the fields to compare (by default the form's, but its
        reason); a field the form did not send shows no submitted value.
        """
        rows = []
        for item in shown if shown is not None else self.fields:
            if item.name == "reason":
                continue
            now = _shown(current.get(item.name, ""))
            sent = submitted.get(item.name)
            rows.append(
                {
                    "label": item.label,
                    "current": now,
                    "submitted": sent,
                    "differs": sent is not None and sent.strip() != now.strip(),
                }
            )
        self.stale = rows
        return self


def _shown(value: Any) -> str:
    """A current value as the comparison shows it (a flag as yes or no)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
