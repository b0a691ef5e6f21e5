"""``ledger tool | reviewer | comparison``: editing the ledger from the box.

Every case runs the click command in-process with ``CliRunner`` against the
test's home on each event store, and reads back what it appended from the
log. A refusal is checked against the API's answer to the same ledger error
(its problem ``detail``), and against the stored rows, which must not move.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from api.problem_details import to_problem
from ledger import errors, log
from ledger.application import Ledger
from ledger.cli import main
from ledger.context import Context
from ledger.domainmodel import Comparison, Reviewer, Tool
from tests.stores import Store

from .helpers import ADMIN, EDITOR, Given, enroll, nothing, register

OS_USER = "night-ops"
"""The login the runner's environment gives getpass, and so the default actor."""
OPERATOR = f"operator:{OS_USER}"
RECEIPT_KEYS = {"id", "version", "position", "type", "actor", "request_id"}


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    login = dict.fromkeys(("LOGNAME", "USER", "LNAME", "USERNAME"), OS_USER)
    return CliRunner(env={**event_store.cli_env(), **login})


def _invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def _log(event_store: Store) -> list[log.LoggedEvent]:
    return log.read(event_store.ledger().recorder, after=0, limit=10_000)


# Givens: the ledger before the command.


def alpha(ledger: Ledger) -> None:
    register(ledger, "alpha")


def alpha_retired(ledger: Ledger) -> None:
    register(ledger, "alpha")
    ledger.retire_tool(EDITOR, "alpha", reason="no longer offered")


def ada(ledger: Ledger) -> None:
    enroll(ledger, "ada", lens="builder")


def two_tools(ledger: Ledger) -> None:
    register(ledger, "alpha")
    register(ledger, "beta")


def compared(ledger: Ledger) -> None:
    two_tools(ledger)
    ledger.publish_comparison(EDITOR, "alpha", "beta", question="Which one ships?")


@dataclass(frozen=True)
class Success:
    """A command that succeeds, and what it must leave in the ledger.

    Attributes:
        given: The ledger before it.
        args: The command line.
        type: The event it appends.
        aggregate: The id of the aggregate it appends to.
        reason: The reason the event must carry.
        state: Checks the ledger after it.
    """

    given: Given
    args: tuple[str, ...]
    type: str
    aggregate: UUID
    reason: str
    state: Callable[[Ledger], bool]


SUCCESSES = {
    "tool add": Success(
        nothing,
        (
            "tool",
            "add",
            "alpha",
            "--name",
            "Alpha",
            "--vendor",
            "Acme",
            "--category",
            "Developer Tools",
            "--tagline",
            "Writes tests",
            "--description",
            "A coding assistant.",
            "--entry",
            "Free",
            "--license",
            "MIT",
        ),
        "Tool.Registered",
        Tool.id_for("alpha"),
        "",
        lambda ledger: (
            ledger.tool("alpha")
            == {
                "slug": "alpha",
                "name": "Alpha",
                "vendor": "Acme",
                "category": "Developer Tools",
                "tagline": "Writes tests",
                "description": "A coding assistant.",
                "entry": "Free",
                "license": "MIT",
                "retired": False,
                "version": 1,
            }
        ),
    ),
    "tool edit": Success(
        alpha,
        ("tool", "edit", "alpha", "--license", "Apache-2.0", "--reason", "relicensed"),
        "Tool.Edited",
        Tool.id_for("alpha"),
        "relicensed",
        lambda ledger: ledger.tool("alpha")["license"] == "Apache-2.0",
    ),
    "tool edit, no reason needed": Success(
        alpha,
        ("tool", "edit", "alpha", "--name", "Alpha Two", "--if-version", "1"),
        "Tool.Edited",
        Tool.id_for("alpha"),
        "",
        lambda ledger: ledger.tool("alpha")["name"] == "Alpha Two",
    ),
    "tool retire": Success(
        alpha,
        ("tool", "retire", "alpha", "--reason", "discontinued", "--if-version", "1"),
        "Tool.Retired",
        Tool.id_for("alpha"),
        "discontinued",
        lambda ledger: ledger.tool("alpha")["retired"] is True,
    ),
    "tool reinstate": Success(
        alpha_retired,
        ("tool", "reinstate", "alpha", "--reason", "back on sale"),
        "Tool.Reinstated",
        Tool.id_for("alpha"),
        "back on sale",
        lambda ledger: ledger.tool("alpha")["retired"] is False,
    ),
    "reviewer enrol": Success(
        nothing,
        ("reviewer", "enrol", "ada", "--name", "Ada", "--lens", "skeptic"),
        "Reviewer.Enrolled",
        Reviewer.id_for("ada"),
        "",
        lambda ledger: (
            ledger.reviewer("ada")
            == {
                "handle": "ada",
                "name": "Ada",
                "lens": "skeptic",
                "retired": False,
                "version": 1,
            }
        ),
    ),
    "reviewer edit": Success(
        ada,
        ("reviewer", "edit", "ada", "--lens", "buyer", "--reason", "now buys"),
        "Reviewer.ProfileEdited",
        Reviewer.id_for("ada"),
        "now buys",
        lambda ledger: ledger.reviewer("ada")["lens"] == "buyer",
    ),
    "reviewer retire": Success(
        ada,
        ("reviewer", "retire", "ada", "--reason", "left the panel"),
        "Reviewer.Retired",
        Reviewer.id_for("ada"),
        "left the panel",
        lambda ledger: ledger.reviewer("ada")["retired"] is True,
    ),
    "comparison publish": Success(
        two_tools,
        ("comparison", "publish", "alpha", "beta", "--question", "Which one ships?"),
        "Comparison.Published",
        Comparison.id_for("alpha", "beta"),
        "",
        lambda ledger: (
            ledger.comparison("alpha", "beta")["question"] == "Which one ships?"
        ),
    ),
    "comparison edit": Success(
        compared,
        (
            "comparison",
            "edit",
            "beta",
            "alpha",
            "--question",
            "Which is faster?",
            "--reason",
            "sharper",
            "--if-version",
            "1",
        ),
        "Comparison.Edited",
        Comparison.id_for("alpha", "beta"),
        "sharper",
        lambda ledger: (
            ledger.comparison("alpha", "beta")["question"] == "Which is faster?"
        ),
    ),
    "comparison retire": Success(
        compared,
        ("comparison", "retire", "alpha", "beta", "--reason", "settled"),
        "Comparison.Retired",
        Comparison.id_for("alpha", "beta"),
        "settled",
        lambda ledger: ledger.comparison("alpha", "beta")["retired"] is True,
    ),
}


@pytest.mark.parametrize("case", SUCCESSES.values(), ids=SUCCESSES.keys())
def test_a_command_appends_one_event_and_prints_its_receipt_as_json(
    runner: CliRunner, event_store: Store, ledger: Ledger, case: Success
) -> None:
    # given the ledger the command needs
    case.given(ledger)
    before = _log(event_store)
    # when the command runs with --json
    result = _invoke(runner, *case.args, "--json")
    # then it appended exactly one event, as the operator, for one request
    assert result.exit_code == 0, result.output
    after = _log(event_store)
    assert after[: len(before)] == before
    (event,) = after[len(before) :]
    assert (event.type, event.aggregate_id) == (case.type, case.aggregate)
    assert (event.actor, event.reason) == (OPERATOR, case.reason)
    assert UUID(event.request_id).version == 4
    # and stdout is one JSON object: its receipt
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == {
        "id": str(event.aggregate_id),
        "version": event.version,
        "position": event.position,
        "type": case.type,
        "actor": OPERATOR,
        "request_id": event.request_id,
    }
    assert result.stderr == ""
    # and the ledger reads as changed
    assert case.state(event_store.ledger())


@pytest.mark.parametrize("case", SUCCESSES.values(), ids=SUCCESSES.keys())
def test_a_command_prints_its_receipt_readably(
    runner: CliRunner, event_store: Store, ledger: Ledger, case: Success
) -> None:
    case.given(ledger)
    result = _invoke(runner, *case.args)
    assert result.exit_code == 0, result.output
    event = _log(event_store)[-1]
    (line,) = result.stdout.splitlines()
    assert f"version {event.version} at position {event.position}" in line
    assert f"id {event.aggregate_id}" in line
    assert f"{case.type} by {OPERATOR}" in line
    assert case.state(event_store.ledger())


def test_each_invocation_is_a_request_of_its_own(
    runner: CliRunner, event_store: Store, ledger: Ledger
) -> None:
    alpha(ledger)
    for reason in ("first", "second"):
        result = _invoke(runner, "tool", "edit", "alpha", "--tagline", reason)
        assert result.exit_code == 0, result.output
    first, second = _log(event_store)[-2:]
    assert first.request_id != second.request_id


@pytest.mark.parametrize(
    ("given", "actor"),
    [("ops", "operator:ops"), ("operator:ops", "operator:ops"), ("a.b_c-9", None)],
)
def test_actor_names_the_operator(
    runner: CliRunner, event_store: Store, given: str, actor: str | None
) -> None:
    result = _invoke(
        runner,
        "reviewer",
        "enrol",
        "ada",
        "--name",
        "Ada",
        "--lens",
        "builder",
        "--actor",
        given,
        "--json",
    )
    assert result.exit_code == 0, result.output
    expected = actor or f"operator:{given}"
    assert json.loads(result.stdout)["actor"] == expected
    assert _log(event_store)[-1].actor == expected


@pytest.mark.parametrize(
    "given",
    ["Jane Doe", "jane@example.com", "Jane", "", "operator:", "-ops", "x" * 33],
)
def test_an_actor_that_is_not_an_operator_name_is_a_usage_error(
    runner: CliRunner, event_store: Store, ledger: Ledger, given: str
) -> None:
    alpha(ledger)
    rows = event_store.stored_rows()
    result = _invoke(
        runner, "tool", "retire", "alpha", "--reason", "x", "--actor", given
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--actor'" in result.stderr
    assert result.stdout == ""
    assert event_store.stored_rows() == rows


@dataclass(frozen=True)
class Refusal:
    """A command the ledger refuses, and the same command called directly.

    Attributes:
        given: The ledger before it.
        args: The command line.
        direct: The ledger command it runs, as the API would run it.
        said: Part of the message, so a case cannot pass on the wrong refusal.
    """

    given: Given
    args: tuple[str, ...]
    direct: Callable[[Ledger, Context], object]
    said: str


REFUSALS = {
    "unknown tool": Refusal(
        nothing,
        ("tool", "edit", "nope", "--name", "Nope"),
        lambda ledger, ctx: ledger.edit_tool(ctx, "nope", {"name": "Nope"}),
        "no tool 'nope'",
    ),
    "duplicate slug": Refusal(
        alpha,
        ("tool", "add", "alpha", "--name", "A", "--vendor", "V", "--category", "C"),
        lambda ledger, ctx: ledger.register_tool(
            ctx, "alpha", {"name": "A", "vendor": "V", "category": "C"}
        ),
        "already registered",
    ),
    "bad slug": Refusal(
        nothing,
        ("tool", "add", "Alpha!", "--name", "A", "--vendor", "V", "--category", "C"),
        lambda ledger, ctx: ledger.register_tool(
            ctx, "Alpha!", {"name": "A", "vendor": "V", "category": "C"}
        ),
        "lowercase",
    ),
    "stale --if-version": Refusal(
        alpha,
        ("tool", "edit", "alpha", "--name", "New", "--if-version", "2"),
        lambda ledger, ctx: ledger.edit_tool(
            ctx, "alpha", {"name": "New"}, expected_version=2
        ),
        "not the expected version 2",
    ),
    "retire twice": Refusal(
        alpha_retired,
        ("tool", "retire", "alpha", "--reason", "again"),
        lambda ledger, ctx: ledger.retire_tool(ctx, "alpha", reason="again"),
        "is retired",
    ),
    "reinstate a live tool": Refusal(
        alpha,
        ("tool", "reinstate", "alpha", "--reason", "why not"),
        lambda ledger, ctx: ledger.reinstate_tool(ctx, "alpha", reason="why not"),
        "is not retired",
    ),
    "tool retire without --reason": Refusal(
        alpha,
        ("tool", "retire", "alpha"),
        lambda ledger, ctx: ledger.retire_tool(ctx, "alpha", reason=""),
        "needs a reason",
    ),
    "verdict field without --reason": Refusal(
        alpha,
        ("tool", "edit", "alpha", "--category", "Chat"),
        lambda ledger, ctx: ledger.edit_tool(ctx, "alpha", {"category": "Chat"}),
        "editing category needs a reason",
    ),
    "edit that changes nothing": Refusal(
        alpha,
        ("tool", "edit", "alpha"),
        lambda ledger, ctx: ledger.edit_tool(ctx, "alpha", {}),
        "changes nothing",
    ),
    "bad lens": Refusal(
        nothing,
        ("reviewer", "enrol", "ada", "--name", "Ada", "--lens", "poet"),
        lambda ledger, ctx: ledger.enroll_reviewer(ctx, "ada", name="Ada", lens="poet"),
        "lens must be one of",
    ),
    "duplicate handle": Refusal(
        ada,
        ("reviewer", "enrol", "ada", "--name", "Ada", "--lens", "buyer"),
        lambda ledger, ctx: ledger.enroll_reviewer(
            ctx, "ada", name="Ada", lens="buyer"
        ),
        "already enrolled",
    ),
    "new lens without --reason": Refusal(
        ada,
        ("reviewer", "edit", "ada", "--lens", "buyer"),
        lambda ledger, ctx: ledger.edit_reviewer(ctx, "ada", {"lens": "buyer"}),
        "needs a reason",
    ),
    "unknown reviewer": Refusal(
        nothing,
        ("reviewer", "retire", "nobody", "--reason", "gone"),
        lambda ledger, ctx: ledger.retire_reviewer(ctx, "nobody", reason="gone"),
        "no reviewer 'nobody'",
    ),
    "comparison of one tool": Refusal(
        alpha,
        ("comparison", "publish", "alpha", "alpha", "--question", "Q?"),
        lambda ledger, ctx: ledger.publish_comparison(
            ctx, "alpha", "alpha", question="Q?"
        ),
        "two distinct tools",
    ),
    "comparison of an unknown tool": Refusal(
        alpha,
        ("comparison", "publish", "alpha", "nope", "--question", "Q?"),
        lambda ledger, ctx: ledger.publish_comparison(
            ctx, "alpha", "nope", question="Q?"
        ),
        "no tool 'nope'",
    ),
    "unknown comparison": Refusal(
        two_tools,
        ("comparison", "edit", "alpha", "beta", "--question", "Q?"),
        lambda ledger, ctx: ledger.edit_comparison(ctx, "alpha", "beta", question="Q?"),
        "no comparison of 'alpha' and 'beta'",
    ),
    "comparison retire without --reason": Refusal(
        compared,
        ("comparison", "retire", "alpha", "beta"),
        lambda ledger, ctx: ledger.retire_comparison(ctx, "alpha", "beta", reason=""),
        "needs a reason",
    ),
}


@pytest.mark.parametrize("as_json", [(), ("--json",)], ids=["text", "json"])
@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_command_says_what_the_api_says_and_appends_nothing(
    runner: CliRunner,
    event_store: Store,
    ledger: Ledger,
    case: Refusal,
    as_json: tuple[str, ...],
) -> None:
    # given the ledger as the case needs it
    case.given(ledger)
    rows = event_store.stored_rows()
    # when the command runs
    result = _invoke(runner, *case.args, *as_json)
    # then it exits 1, stdout empty, and the log is as it was
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert event_store.stored_rows() == rows
    # and stderr says what the API's problem details would for the same command
    with pytest.raises(errors.LedgerError) as refused:
        case.direct(event_store.ledger(), ADMIN)
    problem, _ = to_problem(refused.value)
    assert case.said in problem.detail
    assert result.stderr == f"Error: {problem.detail}\n"
    assert event_store.stored_rows() == rows


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("tool", "add", "alpha", "--name", "A", "--category", "C"), "'--vendor'"),
        (("tool", "edit", "alpha", "--name", "B", "--if-version", "0"), "0"),
        (("tool", "retire", "alpha", "--reason", "x", "--if-version", "two"), "two"),
        (
            (
                "tool",
                "add",
                "alpha",
                "--name",
                "A",
                "--vendor",
                "V",
                "--category",
                "C",
                "--reason",
                "why",
            ),
            "--reason",
        ),
        (("reviewer", "enrol", "ada", "--name", "Ada"), "'--lens'"),
        (("comparison", "publish", "alpha", "--question", "Q?"), "'B'"),
        (("comparison", "edit", "alpha", "beta", "--reason", "r"), "'--question'"),
        (("tool", "rename", "alpha"), "No such command 'rename'"),
    ],
)
def test_a_bad_option_is_a_usage_error_before_the_ledger_is_touched(
    runner: CliRunner,
    event_store: Store,
    ledger: Ledger,
    args: tuple[str, ...],
    said: str,
) -> None:
    two_tools(ledger)
    rows = event_store.stored_rows()
    result = _invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert result.stdout == ""
    assert event_store.stored_rows() == rows


def test_help_documents_the_operator_actor(runner: CliRunner) -> None:
    result = _invoke(runner, "tool", "retire", "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "'operator:NAME'" in text
    assert "no full name, address or other personal detail" in text
