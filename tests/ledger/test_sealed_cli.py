"""The command line shows reviewers' sealed data opened, and erased once erased.

``ledger log`` and ``ledger history`` read the log and the read models,
which hold names, rationales and reasons sealed; they print them in the
clear while the reviewer's key lives, and ``[erased]`` after, for that
reviewer alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from ledger import log
from ledger.application import Ledger
from ledger.cli import main
from ledger.context import Context
from ledger.personal_data import ERASED, is_sealed
from tests.ledger.helpers import enroll, register, reviewer_ctx
from tests.stores import Store

REASONS = {"ada": "Ada reran it", "bob": "Bob reread it"}
RATIONALES = {"ada": "Ada says faster now", "bob": "Bob says docs improved"}


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    return CliRunner(env={**event_store.cli_env(), "COLUMNS": "250"})


@pytest.fixture
def reviewed(ledger: Ledger) -> Ledger:
    register(ledger)
    for handle in REASONS:
        enroll(ledger, handle)
        ctx = reviewer_ctx(handle)
        ledger.put_review(ctx, "alpha", handle, verdict="ship", rationale="First.")
        ledger.put_review(
            ctx,
            "alpha",
            handle,
            verdict="skip",
            rationale=RATIONALES[handle],
            reason=REASONS[handle],
        )
    return ledger


def _log(runner: CliRunner) -> list[dict[str, Any]]:
    result = runner.invoke(main, ["log", "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _revisions(runner: CliRunner) -> dict[str, tuple[str, str]]:
    return {
        item["actor"].removeprefix("reviewer:"): (
            item["reason"],
            item["data"]["rationale"],
        )
        for item in _log(runner)
        if item["type"] == "Review.Revised"
    }


def _names(runner: CliRunner) -> dict[str, str]:
    return {
        item["data"]["handle"]: item["data"]["name"]
        for item in _log(runner)
        if item["type"] == "Reviewer.Enrolled"
    }


def _history(runner: CliRunner) -> tuple[list[str], str]:
    diff = runner.invoke(main, ["history", "alpha", "--since", "0", "--json"])
    assert diff.exit_code == 0, diff.output
    reasons = [item["reason"] for item in json.loads(diff.stdout)["events"]]
    table = runner.invoke(main, ["history", "alpha"])
    assert table.exit_code == 0, table.output
    return [reason for reason in reasons if reason], table.stdout


def test_log_and_history_print_clear_text_then_erased(
    runner: CliRunner, reviewed: Ledger
) -> None:
    # The log holds them sealed...
    events = log.read(reviewed.recorder, after=0, limit=1000)
    stored = [event.data for event in events if "rationale" in event.data]
    assert stored
    assert all(is_sealed(data["rationale"]) for data in stored)
    # ...and the command line prints them opened.
    assert _revisions(runner) == {
        handle: (REASONS[handle], RATIONALES[handle]) for handle in REASONS
    }
    assert _names(runner) == {"ada": "Ada", "bob": "Bob"}
    reasons, table = _history(runner)
    assert reasons == [REASONS["ada"], REASONS["bob"]]
    assert REASONS["ada"] in table
    assert REASONS["bob"] in table
    plain = runner.invoke(main, ["log"])
    assert plain.exit_code == 0, plain.output
    assert REASONS["ada"] in plain.stdout

    reviewed.erase(
        Context(actor="admin:test", request_id="erase"),
        "reviewer:ada",
        reason="asked to be forgotten",
    )

    assert _revisions(runner) == {
        "ada": (ERASED, ERASED),
        "bob": (REASONS["bob"], RATIONALES["bob"]),
    }
    assert _names(runner) == {"ada": ERASED, "bob": "Bob"}
    reasons, table = _history(runner)
    assert reasons == [ERASED, REASONS["bob"]]
    assert REASONS["ada"] not in table
    assert REASONS["bob"] in table
    plain = runner.invoke(main, ["log"])
    assert plain.exit_code == 0, plain.output
    assert REASONS["ada"] not in plain.stdout
    assert ERASED in plain.stdout
