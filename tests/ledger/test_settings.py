"""Settings from the environment, and the embedded store they configure."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.sqlite_recorder import LedgerSQLiteApplicationRecorder

from .helpers import register

SYNCHRONOUS_FULL = 2


def test_from_env_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings(home=Path("var"), event_store=None, lock_timeout=10)
    assert settings.events_path == Path("var/events.sqlite")
    assert settings.auth_path == Path("var/auth.sqlite")
    assert settings.secret_path == Path("var/secret.key")


def test_from_env_reads_every_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "LEDGER_HOME": str(tmp_path),
            "LEDGER_EVENT_STORE": "postgresql://u@db/ledger",
            "LEDGER_LOCK_TIMEOUT": "3",
            "UNRELATED": "x",
        }
    )
    assert settings == Settings(
        home=tmp_path, event_store="postgresql://u@db/ledger", lock_timeout=3
    )


def test_empty_variables_mean_the_defaults() -> None:
    env = {"LEDGER_HOME": "", "LEDGER_EVENT_STORE": "", "LEDGER_LOCK_TIMEOUT": ""}
    assert Settings.from_env(env) == Settings()


def test_sqlite_environment_creates_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    env = Settings(home=home, lock_timeout=7).eventsourcing_env()
    assert env == {
        "PERSISTENCE_MODULE": "ledger.sqlite_recorder:LedgerSQLiteFactory",
        "SQLITE_DBNAME": str(home / "events.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "7",
    }
    assert home.is_dir()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://ledger:p%40ss%2Fword@db.example:6543/verdicts",
            {
                "POSTGRES_DBNAME": "verdicts",
                "POSTGRES_HOST": "db.example",
                "POSTGRES_PORT": "6543",
                "POSTGRES_USER": "ledger",
                "POSTGRES_PASSWORD": "p@ss/word",
            },
        ),
        (
            "postgres://127.0.0.1",
            {
                "POSTGRES_DBNAME": "postgres",
                "POSTGRES_HOST": "127.0.0.1",
                "POSTGRES_PORT": "5432",
                "POSTGRES_USER": "postgres",
                "POSTGRES_PASSWORD": "",
            },
        ),
    ],
)
def test_postgresql_environment(
    tmp_path: Path, url: str, expected: dict[str, str]
) -> None:
    env = Settings(home=tmp_path, event_store=url, lock_timeout=4).eventsourcing_env()
    assert env == {
        "PERSISTENCE_MODULE": "ledger.postgres_appends:EarlyUnlockPostgresFactory",
        "POSTGRES_LOCK_TIMEOUT": "4",
        "POSTGRES_CONNECT_TIMEOUT": "4",
        **expected,
    }


def test_an_event_store_url_must_be_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be a postgresql:// URL"):
        Settings(home=tmp_path, event_store="mysql://db/ledger").eventsourcing_env()


def test_a_truncated_secret_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    tmp_path.mkdir(exist_ok=True)
    settings.secret_path.write_bytes(b"short")
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        settings.server_secret()


@pytest.mark.sqlite_only("the SQLite file's journal mode")
def test_the_event_store_file_is_in_wal_mode(ledger: Ledger) -> None:
    # given a ledger that has written to its file
    register(ledger, "alpha")
    # when the file is opened by anyone else
    with sqlite3.connect(ledger.settings.events_path) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        rows = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    # then it is a write-ahead-logged database holding the event
    assert (mode, rows) == ("wal", 1)
    assert isinstance(ledger.recorder, LedgerSQLiteApplicationRecorder)


@pytest.mark.sqlite_only("the SQLite connections' pragmas")
def test_every_pooled_connection_commits_with_synchronous_full(ledger: Ledger) -> None:
    register(ledger, "alpha")
    recorder: Any = ledger.recorder
    pool = recorder.datastore.pool
    # take several connections at once, so the pool has to open new ones
    connections = [pool.get_connection(is_writer=False) for _ in range(3)]
    try:
        for connection in connections:
            with connection.cursor() as cursor:
                assert cursor.execute("PRAGMA synchronous").fetchone()[0] == (
                    SYNCHRONOUS_FULL
                )
                assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        for connection in connections:
            pool.put_connection(connection)
