"""``ledger token create --expires | list | revoke`` on a real token file."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.auth import TokenStore
from ledger.cli import main
from ledger.settings import Settings
from tests.stores import Store


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    return CliRunner(env=event_store.cli_env())


def _create(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(main, ["token", "create", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _verify(home: Path, token: str) -> bool:
    settings = Settings(home=home)
    store = TokenStore(settings.auth_path, settings.server_secret())
    try:
        return store.verify(token) is not None
    finally:
        store.close()


def _listed(runner: CliRunner, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(main, ["token", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_create_with_expires_sets_the_expiry(runner: CliRunner, home: Path) -> None:
    before = datetime.now(UTC)
    token = _create(runner, "--role", "editor", "--expires", "30d")
    after = datetime.now(UTC)
    (row,) = _listed(runner)
    assert row["id"] == token.split("_")[1]
    expires = datetime.fromisoformat(str(row["expires_at"]))
    assert before + timedelta(days=30) <= expires <= after + timedelta(days=30)
    assert _verify(home, token)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("soon", "a duration is a whole number of minutes, hours or days"),
        ("0h", "longer than zero"),
        ("4000d", "at most 3650d"),
    ],
)
def test_create_refuses_a_nonsense_duration(
    runner: CliRunner, home: Path, given: str, said: str
) -> None:
    result = runner.invoke(
        main, ["token", "create", "--role", "editor", "--expires", given]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--expires'" in result.stderr
    assert said in result.stderr
    assert result.stdout == ""
    assert not Settings(home=home).auth_path.exists()


def test_list_shows_each_token_without_its_secret(
    runner: CliRunner, home: Path
) -> None:
    admin = _create(runner, "--role", "admin")
    voter = _create(runner, "--role", "voter", "--expires", "12h")
    rows = _listed(runner)
    assert [row["id"] for row in rows] == [admin.split("_")[1], voter.split("_")[1]]
    assert [row["role"] for row in rows] == ["admin", "voter"]
    assert [row["state"] for row in rows] == ["live", "live"]
    assert rows[0]["expires_at"] is None
    assert {"created_at", "last_used_at", "revoked_at", "reviewer"} <= rows[0].keys()
    assert [row["id"] for row in _listed(runner, "--role", "voter")] == [
        voter.split("_")[1]
    ]
    table = runner.invoke(main, ["token", "list"])
    assert table.exit_code == 0, table.output
    assert admin.split("_")[1] in table.stdout
    with sqlite3.connect(Settings(home=home).auth_path) as db:
        digests = [row[0] for row in db.execute("SELECT digest FROM tokens")]
    for token in (admin, voter):
        secret = token.split("_", 2)[2]
        for shown in (table.stdout, json.dumps(rows)):
            assert secret not in shown
            assert not any(digest in shown for digest in digests)


def test_revoke_stops_a_token_and_says_so(runner: CliRunner, home: Path) -> None:
    token = _create(runner, "--role", "editor")
    token_id = token.split("_")[1]
    result = runner.invoke(main, ["token", "revoke", token_id])
    assert result.exit_code == 0, result.output
    assert f"revoked token {token_id} (editor)" in result.stderr
    assert not _verify(home, token)
    (row,) = _listed(runner)
    assert row["state"] == "revoked"
    assert row["revoked_at"] is not None


def test_revoke_refuses_an_unknown_or_revoked_token(runner: CliRunner) -> None:
    token_id = _create(runner, "--role", "voter").split("_")[1]
    unknown = runner.invoke(main, ["token", "revoke", "nope"])
    assert unknown.exit_code == 1
    assert "no token has the id 'nope'" in unknown.stderr
    assert runner.invoke(main, ["token", "revoke", token_id]).exit_code == 0
    again = runner.invoke(main, ["token", "revoke", token_id])
    assert again.exit_code == 1
    assert f"token {token_id} was already revoked at" in again.stderr


@pytest.mark.usefixtures("demo_ledger")
def test_a_reviewer_token_may_expire_too(runner: CliRunner, home: Path) -> None:
    token = _create(
        runner, "--role", "reviewer", "--reviewer", "skeptic", "--expires", "90m"
    )
    (row,) = _listed(runner)
    assert (row["role"], row["reviewer"]) == ("reviewer", "skeptic")
    created = datetime.fromisoformat(str(row["created_at"]))
    expires = datetime.fromisoformat(str(row["expires_at"]))
    assert expires - created == timedelta(minutes=90)
    assert _verify(home, token)
