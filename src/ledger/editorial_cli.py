"""``ledger tool``, ``ledger reviewer`` and ``ledger comparison``: editing on the box.

An operator with a shell on a node registers, edits, retires and reinstates
tools, enrols, edits and retires reviewers, and publishes, edits and retires
comparisons without a token or a server. Each command is one call of the
:class:`~ledger.application.Ledger` command the API calls, so it refuses
what the API refuses, in the same words (the API's problem ``detail`` is the
ledger error's text), exits 1 and appends nothing; a malformed option is a
usage error (exit 2) before the ledger is opened.

The events name the operator as ``operator:NAME``, beside the API's
``editor:<token id>`` and ``admin:<token id>``: a role, then a name that
says which operator and nothing more about them.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import uuid4

import click
import msgspec

from ledger import rules
from ledger.application import Ledger, Receipt
from ledger.cli_support import clear_errors, opened_ledger
from ledger.context import Context

OPERATOR = "operator"
"""The role part of the actor an operator's events carry."""
OPERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
"""An operator name: a login-like word, never a full name or an address."""

ACTOR_HELP = (
    "Act as operator NAME: the events carry actor 'operator:NAME'. NAME is "
    "1-32 lowercase letters, digits, '.', '_' or '-' (a login name or a role "
    "such as 'ops'; no full name, address or other personal detail)."
)
REASON_HELP = "Why, kept with the event (the ledger says when one is needed)."
IF_VERSION_HELP = "Refuse unless the {} is at this version (like If-Match)."
TOOL_FIELD_HELP = {
    "name": "Display name.",
    "vendor": "Who makes it.",
    "category": "e.g. 'Developer Tools'.",
    "tagline": "One line under the name.",
    "description": "What it is and does.",
    "entry": "How to get in: price or plan.",
    "license": "The licence it comes under.",
}

F = TypeVar("F", bound=Callable[..., Any])


def _os_user() -> str:
    """The OS user, or "" when the system cannot say (no passwd entry)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


class OperatorActor(click.ParamType):
    """An operator name, converted to the actor ``operator:NAME``."""

    name = "name"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        if not value:
            self.fail("the OS user is unknown: pass --actor NAME", param, ctx)
        name = str(value).removeprefix(f"{OPERATOR}:")
        if not OPERATOR_NAME.match(name):
            self.fail(
                f"{name!r} is not an operator name: 1-32 lowercase letters, "
                "digits, '.', '_' or '-', starting with a letter or digit",
                param,
                ctx,
            )
        return f"{OPERATOR}:{name}"


def actor_option(command: F) -> F:
    """Adds ``--actor``: the operator the events name, by default the OS user."""
    return click.option(
        "--actor",
        type=OperatorActor(),
        default=_os_user,
        show_default="the OS user",
        help=ACTOR_HELP,
    )(command)


def acting(command: F) -> F:
    """Adds ``--actor`` and ``--json``, the options every command here takes."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print the receipt as one JSON object."
    )(command)
    return actor_option(command)


def changing(what: str) -> Callable[[F], F]:
    """Adds ``--reason`` and ``--if-version`` for a change to an existing ``what``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--if-version",
            "expected_version",
            type=click.IntRange(min=1),
            help=IF_VERSION_HELP.format(what),
        )(command)
        return click.option("--reason", default="", help=REASON_HELP)(command)

    return decorate


def tool_fields(*, required: bool) -> Callable[[F], F]:
    """Adds one option per tool field; on ``add`` the ledger's required ones."""

    def decorate(command: F) -> F:
        for name in reversed(rules.TOOL_FIELDS):
            command = click.option(
                f"--{name}",
                required=required and name in rules.REQUIRED_TOOL_FIELDS,
                help=TOOL_FIELD_HELP[name],
            )(command)
        return command

    return decorate


def _run(
    actor: str,
    as_json: bool,
    done: str,
    event_type: str,
    command: Callable[[Ledger, Context], Receipt],
) -> None:
    """Runs ``command`` as ``actor`` in a request of its own; prints the receipt.

    Args:
        actor: ``operator:NAME``.
        as_json: Print one JSON object instead of a line of text.
        done: What was done, for the line of text (``retired tool 'x'``).
        event_type: The type of the event appended, as ``ledger log`` names it.
        command: The ledger's command, given the ledger and the context.
    """
    context = Context(actor=actor, request_id=str(uuid4()))
    with clear_errors(), opened_ledger() as ledger:
        receipt = command(ledger, context)
    if as_json:
        answer = {
            "id": str(receipt.id),
            "version": receipt.version,
            "position": receipt.position,
            "type": event_type,
            "actor": actor,
            "request_id": context.request_id,
        }
        click.echo(msgspec.json.encode(answer).decode())
        return
    click.echo(
        f"{done}: version {receipt.version} at position {receipt.position} "
        f"(id {receipt.id}, {event_type} by {actor})"
    )


def _given(fields: dict[str, str | None]) -> dict[str, str]:
    """The fields an option was given for."""
    return {name: value for name, value in fields.items() if value is not None}


@click.group("tool")
def tool_group() -> None:
    """Register, edit, retire and reinstate tools, as an operator."""


@tool_group.command("add")
@click.argument("slug")
@tool_fields(required=True)
@acting
def tool_add(slug: str, actor: str, as_json: bool, **fields: str | None) -> None:
    """Register the tool SLUG (no reason: the ledger keeps none for a new tool)."""
    _run(
        actor,
        as_json,
        f"registered tool {slug!r}",
        "Tool.Registered",
        lambda ledger, ctx: ledger.register_tool(ctx, slug, _given(fields)),
    )


@tool_group.command("edit")
@click.argument("slug")
@tool_fields(required=False)
@changing("tool")
@acting
def tool_edit(
    slug: str,
    reason: str,
    expected_version: int | None,
    actor: str,
    as_json: bool,
    **fields: str | None,
) -> None:
    """Change the fields given of SLUG.

    Category, description, entry and license need --reason: verdicts rest on them.
    """
    _run(
        actor,
        as_json,
        f"edited tool {slug!r}",
        "Tool.Edited",
        lambda ledger, ctx: ledger.edit_tool(
            ctx, slug, _given(fields), reason=reason, expected_version=expected_version
        ),
    )


@tool_group.command("retire")
@click.argument("slug")
@changing("tool")
@acting
def tool_retire(
    slug: str, reason: str, expected_version: int | None, actor: str, as_json: bool
) -> None:
    """Retire SLUG: it takes no new reviews or votes (needs --reason)."""
    _run(
        actor,
        as_json,
        f"retired tool {slug!r}",
        "Tool.Retired",
        lambda ledger, ctx: ledger.retire_tool(
            ctx, slug, reason=reason, expected_version=expected_version
        ),
    )


@tool_group.command("reinstate")
@click.argument("slug")
@changing("tool")
@acting
def tool_reinstate(
    slug: str, reason: str, expected_version: int | None, actor: str, as_json: bool
) -> None:
    """Bring the retired tool SLUG back (needs --reason)."""
    _run(
        actor,
        as_json,
        f"reinstated tool {slug!r}",
        "Tool.Reinstated",
        lambda ledger, ctx: ledger.reinstate_tool(
            ctx, slug, reason=reason, expected_version=expected_version
        ),
    )


@click.group("reviewer")
def reviewer_group() -> None:
    """Enrol, edit and retire panel reviewers, as an operator."""


@reviewer_group.command("enrol")
@click.argument("handle")
@click.option("--name", required=True, help="The reviewer's name on the site.")
@click.option("--lens", required=True, help=f"One of {', '.join(rules.LENSES)}.")
@acting
def reviewer_enrol(
    handle: str, name: str, lens: str, actor: str, as_json: bool
) -> None:
    """Enrol the reviewer HANDLE (no reason: the ledger keeps none for a new one)."""
    _run(
        actor,
        as_json,
        f"enrolled reviewer {handle!r}",
        "Reviewer.Enrolled",
        lambda ledger, ctx: ledger.enroll_reviewer(ctx, handle, name=name, lens=lens),
    )


@reviewer_group.command("edit")
@click.argument("handle")
@click.option("--name", help="A new name on the site.")
@click.option("--lens", help=f"A new lens, one of {', '.join(rules.LENSES)}.")
@changing("reviewer")
@acting
def reviewer_edit(
    handle: str,
    name: str | None,
    lens: str | None,
    reason: str,
    expected_version: int | None,
    actor: str,
    as_json: bool,
) -> None:
    """Rename HANDLE or change its lens; a new lens needs --reason."""
    changes = _given({"name": name, "lens": lens})
    _run(
        actor,
        as_json,
        f"edited reviewer {handle!r}",
        "Reviewer.ProfileEdited",
        lambda ledger, ctx: ledger.edit_reviewer(
            ctx, handle, changes, reason=reason, expected_version=expected_version
        ),
    )


@reviewer_group.command("retire")
@click.argument("handle")
@changing("reviewer")
@acting
def reviewer_retire(
    handle: str, reason: str, expected_version: int | None, actor: str, as_json: bool
) -> None:
    """Retire HANDLE: no new reviews; past ones stay (needs --reason)."""
    _run(
        actor,
        as_json,
        f"retired reviewer {handle!r}",
        "Reviewer.Retired",
        lambda ledger, ctx: ledger.retire_reviewer(
            ctx, handle, reason=reason, expected_version=expected_version
        ),
    )


@click.group("comparison")
def comparison_group() -> None:
    """Publish, edit and retire head-to-head comparisons, as an operator."""


@comparison_group.command("publish")
@click.argument("a")
@click.argument("b")
@click.option("--question", required=True, help="The question the pair answers.")
@acting
def comparison_publish(
    a: str, b: str, question: str, actor: str, as_json: bool
) -> None:
    """Publish the comparison of tools A and B (no reason: none is kept)."""
    _run(
        actor,
        as_json,
        f"published the comparison of {a!r} and {b!r}",
        "Comparison.Published",
        lambda ledger, ctx: ledger.publish_comparison(ctx, a, b, question=question),
    )


@comparison_group.command("edit")
@click.argument("a")
@click.argument("b")
@click.option("--question", required=True, help="The new question.")
@changing("comparison")
@acting
def comparison_edit(
    a: str,
    b: str,
    question: str,
    reason: str,
    expected_version: int | None,
    actor: str,
    as_json: bool,
) -> None:
    """Change the question of the comparison of A and B."""
    _run(
        actor,
        as_json,
        f"edited the comparison of {a!r} and {b!r}",
        "Comparison.Edited",
        lambda ledger, ctx: ledger.edit_comparison(
            ctx,
            a,
            b,
            question=question,
            reason=reason,
            expected_version=expected_version,
        ),
    )


@comparison_group.command("retire")
@click.argument("a")
@click.argument("b")
@changing("comparison")
@acting
def comparison_retire(
    a: str, b: str, reason: str, expected_version: int | None, actor: str, as_json: bool
) -> None:
    """Retire the comparison of A and B: it takes no votes (needs --reason)."""
    _run(
        actor,
        as_json,
        f"retired the comparison of {a!r} and {b!r}",
        "Comparison.Retired",
        lambda ledger, ctx: ledger.retire_comparison(
            ctx, a, b, reason=reason, expected_version=expected_version
        ),
    )


EDITORIAL_GROUPS = (tool_group, reviewer_group, comparison_group)
"""The groups ``ledger`` adds: ``tool``, ``reviewer`` and ``comparison``."""
