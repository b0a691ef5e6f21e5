"""``ledger token create --expires | list | revoke`` on each token store.

On SQLite the tokens are in the home's ``auth.sqlite``; on PostgreSQL in the
table beside the log, which the command finds from the environment alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import main
from ledger.settings import Settings
from ledger.sqlite_tokens import TokenStore
from tests.stores import Store


@pytest.fixture
def runner(event_store: Store) -> CliRunner:
    return CliRunner(env=event_store.cli_env())


def _create(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(main, ["token", "create", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _verify(event_store: Store, token: str) -> bool:
    store = event_store.token_store()
    try:
        return store.verify(token) is not None
    finally:
        store.close()


def _digests(event_store: Store) -> list[str]:
    """Every stored digest (64 hex digits), read past the store."""
    return [
        value
        for row in event_store.token_rows()
        for value in row
        if isinstance(value, str) and len(value) == 64
    ]


def _listed(runner: CliRunner, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(main, ["token", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_create_with_expires_sets_the_expiry(
    runner: CliRunner, event_store: Store
) -> None:
    before = datetime.now(UTC)
    token = _create(runner, "--role", "editor", "--expires", "30d")
    after = datetime.now(UTC)
    (row,) = _listed(runner)
    assert row["id"] == token.split("_")[1]
    expires = datetime.fromisoformat(str(row["expires_at"]))
    assert before + timedelta(days=30) <= expires <= after + timedelta(days=30)
    assert _verify(event_store, token)


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
    assert _listed(runner) == []


def test_list_shows_each_token_without_its_secret(
    runner: CliRunner, event_store: Store
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
    digests = _digests(event_store)
    assert len(digests) == 2
    for token in (admin, voter):
        secret = token.split("_", 2)[2]
        for shown in (table.stdout, json.dumps(rows)):
            assert secret not in shown
            assert not any(digest in shown for digest in digests)


def test_revoke_stops_a_token_and_says_so(
    runner: CliRunner, event_store: Store
) -> None:
    token = _create(runner, "--role", "editor")
    token_id = token.split("_")[1]
    result = runner.invoke(main, ["token", "revoke", token_id])
    assert result.exit_code == 0, result.output
    assert f"revoked token {token_id} (editor)" in result.stderr
    assert not _verify(event_store, token)
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
def test_a_reviewer_token_may_expire_too(runner: CliRunner, event_store: Store) -> None:
    token = _create(
        runner, "--role", "reviewer", "--reviewer", "skeptic", "--expires", "90m"
    )
    (row,) = _listed(runner)
    assert (row["role"], row["reviewer"]) == ("reviewer", "skeptic")
    created = datetime.fromisoformat(str(row["created_at"]))
    expires = datetime.fromisoformat(str(row["expires_at"]))
    assert expires - created == timedelta(minutes=90)
    assert _verify(event_store, token)


def test_import_moves_an_old_nodes_tokens_and_they_keep_working(
    runner: CliRunner, event_store: Store, tmp_path: Path
) -> None:
    # The old node's auth.sqlite, under the secret copied with the home.
    old_file = tmp_path / "old-node" / "auth.sqlite"
    old = TokenStore(old_file, event_store.settings.server_secret())
    try:
        kept = old.create("editor")
        revoked, revoked_info = old.issue("voter")
        old.revoke(revoked_info.id)
    finally:
        old.close()
    already = _create(runner, "--role", "admin")
    result = runner.invoke(main, ["token", "import", str(old_file)])
    assert result.exit_code == 0, result.output
    assert f"imported 2 tokens from {old_file}" in result.stderr
    assert _verify(event_store, kept)
    assert not _verify(event_store, revoked)
    assert _verify(event_store, already)
    rows = _listed(runner)
    assert [row["role"] for row in rows] == ["admin", "editor", "voter"]
    assert rows[2]["state"] == "revoked"
    # Importing again adds nothing and says so.
    again = runner.invoke(main, ["token", "import", str(old_file)])
    assert again.exit_code == 0, again.output
    assert "imported 0 tokens" in again.stderr
    assert "(2 already there)" in again.stderr
    assert len(_listed(runner)) == 3


def test_import_refuses_a_file_that_holds_no_tokens(
    runner: CliRunner, tmp_path: Path
) -> None:
    not_tokens = tmp_path / "notes.txt"
    not_tokens.write_text("hello, this is not SQLite\n" * 100)
    result = runner.invoke(main, ["token", "import", str(not_tokens)])
    assert result.exit_code == 1
    assert f"{not_tokens} is not a token file" in result.stderr
    assert _listed(runner) == []


def test_import_refuses_to_run_without_the_old_secret(
    runner: CliRunner, event_store: Store, tmp_path: Path
) -> None:
    old_file = tmp_path / "old-node" / "auth.sqlite"
    old = TokenStore(old_file, b"o" * 32)
    old.create("editor")
    old.close()
    result = runner.invoke(main, ["token", "import", str(old_file)])
    assert result.exit_code == 1
    assert "copy the old home's secret.key there first" in result.stderr
    assert not event_store.settings.secret_path.exists()
    assert _listed(runner) == []


def test_a_postgresql_store_out_of_reach_is_a_one_line_error(home: Path) -> None:
    closed = CliRunner(
        env={
            "LEDGER_HOME": str(home),
            "LEDGER_EVENT_STORE": "postgresql://postgres@127.0.0.1:1/test",
            "LEDGER_LOCK_TIMEOUT": "1",
        }
    )
    result = closed.invoke(main, ["token", "create", "--role", "editor"])
    assert result.exit_code == 1
    assert "the token store could not be used" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
