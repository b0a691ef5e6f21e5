"""The ``ledger`` command line: demo, log, token create, and bad arguments.

Most cases run the click command in-process with ``CliRunner``; the last ones
run the installed ``ledger`` console script as a real process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ledger.cli import main
from ledger.domainmodel import Review, Tool
from tests.stores import Store


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    return CliRunner(env=event_store.cli_env())


def head(event_store: Store) -> int:
    return event_store.ledger().head_position()


def ndjson(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_demo_loads_once(runner: CliRunner, event_store: Store) -> None:
    first = runner.invoke(main, ["demo"])
    assert first.exit_code == 0, first.output
    assert "15 event(s) appended" in first.stderr
    second = runner.invoke(main, ["demo"])
    assert second.exit_code == 0, second.output
    assert "0 event(s) appended, head at position 15" in second.stderr
    assert head(event_store) == 15


@pytest.mark.usefixtures("demo_ledger")
def test_log_prints_a_table_of_events(runner: CliRunner) -> None:
    result = runner.invoke(main, ["log", "--limit", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Tool.Registered" in result.stdout
    assert "Reviewer.Enrolled" in result.stdout
    assert "Review.Submitted" not in result.stdout


@pytest.mark.usefixtures("demo_ledger")
def test_log_json_is_one_event_per_line(runner: CliRunner) -> None:
    result = runner.invoke(main, ["log", "--json"])
    assert result.exit_code == 0, result.output
    lines = ndjson(result)
    assert [line["position"] for line in lines] == list(range(1, 16))
    first = lines[0]
    assert first["type"] == "Tool.Registered"
    assert first["aggregate_id"] == str(Tool.id_for("code-llama-4"))
    assert first["actor"] == "system"
    assert first["data"]["slug"] == "code-llama-4"


@pytest.mark.usefixtures("demo_ledger")
def test_log_filters_by_type_aggregate_and_position(runner: CliRunner) -> None:
    by_type = ndjson(
        runner.invoke(main, ["log", "--json", "--type", "Review.Submitted"])
    )
    assert len(by_type) == 8
    assert {line["type"] for line in by_type} == {"Review.Submitted"}
    two_types = ndjson(
        runner.invoke(
            main,
            [
                "log",
                "--json",
                "--type",
                "Tool.Registered",
                "--type",
                "Comparison.Published",
            ],
        )
    )
    assert [line["type"] for line in two_types] == [
        "Tool.Registered",
        "Tool.Registered",
        "Comparison.Published",
    ]
    review = str(Review.id_for("mistral-medium-3", "buyer"))
    by_aggregate = ndjson(runner.invoke(main, ["log", "--json", "--aggregate", review]))
    assert [
        (line["aggregate_id"], line["data"]["verdict"]) for line in by_aggregate
    ] == [(review, "skip")]
    page = ndjson(
        runner.invoke(main, ["log", "--json", "--after", "10", "--limit", "2"])
    )
    assert [line["position"] for line in page] == [11, 12]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["log", "--type", "Tool.Deleted"], 1, "unknown event type(s): Tool.Deleted"),
        (["log", "--aggregate", "code-llama-4"], 2, "is not a UUID"),
        (["log", "--limit", "0"], 2, "must be at least 1"),
        (["token", "create", "--role", "owner"], 2, "Invalid value for '--role'"),
        (["token", "create", "--role", "reviewer"], 2, "needs --reviewer HANDLE"),
        (
            ["token", "create", "--role", "reviewer", "--reviewer", "nobody"],
            1,
            "no reviewer 'nobody'",
        ),
        (
            ["token", "create", "--role", "editor", "--reviewer", "builder"],
            2,
            "--reviewer only goes with --role reviewer",
        ),
        (["token", "create"], 2, "Missing option '--role'"),
    ],
)
@pytest.mark.usefixtures("demo_ledger")
def test_bad_arguments_fail_clearly_and_change_nothing(
    runner: CliRunner,
    event_store: Store,
    args: list[str],
    code: int,
    message: str,
) -> None:
    rows = event_store.token_rows()
    result = runner.invoke(main, args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert head(event_store) == 15
    assert event_store.token_rows() == rows


@pytest.mark.parametrize("role", ["admin", "editor", "voter"])
def test_token_create_prints_only_the_token(
    runner: CliRunner, event_store: Store, role: str
) -> None:
    # when a token is created
    result = runner.invoke(main, ["token", "create", "--role", role])
    # then stdout is the token alone, and it verifies for that role
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("vl_")
    store = event_store.token_store()
    try:
        principal = store.verify(token)
        assert principal is not None
        assert (principal.role, principal.reviewer) == (role, None)
        assert store.verify(token + "x") is None
    finally:
        store.close()
    # and the stored row holds a digest, not the token or its secret
    (row,) = event_store.token_rows()
    secret = token.split("_", 2)[2]
    assert not any(secret in str(value) for value in row)
    assert not any(token in str(value) for value in row)


@pytest.mark.usefixtures("demo_ledger")
def test_reviewer_token_is_bound_to_an_enrolled_reviewer(
    runner: CliRunner, event_store: Store
) -> None:
    result = runner.invoke(
        main, ["token", "create", "--role", "reviewer", "--reviewer", "skeptic"]
    )
    assert result.exit_code == 0, result.output
    tokens = event_store.token_store()
    try:
        principal = tokens.verify(result.stdout.strip())
    finally:
        tokens.close()
    assert principal is not None
    assert (principal.role, principal.reviewer, principal.actor) == (
        "reviewer",
        "skeptic",
        "reviewer:skeptic",
    )
    assert head(event_store) == 15


def ledger_script() -> str:
    script = shutil.which("ledger", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.fail("the ledger console script is not installed next to python")
    return script


def run_ledger(event_store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **event_store.cli_env()}
    return subprocess.run(
        [ledger_script(), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_console_script_end_to_end(event_store: Store) -> None:
    # when the installed script loads the demo in a fresh LEDGER_HOME
    loaded = run_ledger(event_store, "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert "15 event(s) appended" in loaded.stderr
    # then its log lists the eight verdicts
    reviews = run_ledger(event_store, "log", "--json", "--type", "Review.Submitted")
    assert reviews.returncode == 0, reviews.stderr
    verdicts = [
        json.loads(line)["data"]["verdict"] for line in reviews.stdout.splitlines()
    ]
    assert sorted(verdicts) == ["ship"] * 7 + ["skip"]
    # and a token comes out alone on stdout
    token = run_ledger(event_store, "token", "create", "--role", "editor")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count("\n") == 1
    assert token.stdout.startswith("vl_")
    # while a bad argument exits non-zero with a message and appends nothing
    bad = run_ledger(event_store, "log", "--type", "Nope")
    assert bad.returncode != 0
    assert "unknown event type(s): Nope" in bad.stderr
    assert bad.stdout == ""
    bad_role = run_ledger(event_store, "token", "create", "--role", "reviewer")
    assert bad_role.returncode != 0
    assert "needs --reviewer" in bad_role.stderr
    assert head(event_store) == 15
