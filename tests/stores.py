"""The two event stores the suites run on: the embedded SQLite file and PostgreSQL.

A test that takes the ``event_store`` fixture (or ``ledger``, built on it)
runs once per store, its id saying which. On PostgreSQL it gets a private
schema of its own (:func:`tests.helpers.private_schema`), and the process
environment names that schema and the server (``POSTGRES_SCHEMA``,
``LEDGER_EVENT_STORE``) for the test's length, so whatever opens the ledger
from the environment, the CLI, the app or a child process, finds the same log.

A test that is about the SQLite file itself carries
``@pytest.mark.sqlite_only("why")`` and runs on SQLite alone; the reason is
required, so no test leaves PostgreSQL out without saying why.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from tests.helpers import URL, private_schema

STORES = ("sqlite", "postgres")


@dataclass
class Store:
    """Opens ledgers on one test's event store.

    Attributes:
        name: ``sqlite`` or ``postgres``.
        settings: The settings of the test's home on this store.
        env: What eventsourcing needs besides the settings (the schema).
        opened: Every ledger opened here, closed when the test ends.
    """

    name: str
    settings: Settings
    env: dict[str, str] = field(default_factory=dict)
    opened: list[Ledger] = field(default_factory=list)

    def ledger(self, **changes: Any) -> Ledger:
        """A ledger on this store; ``changes`` replace fields of the settings."""
        opened = Ledger(replace(self.settings, **changes), self.env)
        self.opened.append(opened)
        return opened

    def cli_env(self) -> dict[str, str]:
        """The ``ledger`` command's environment for this home on this store."""
        return {
            **self.env,
            "LEDGER_HOME": str(self.settings.home),
            "LEDGER_EVENT_STORE": self.settings.event_store or "",
        }

    def stored_rows(self) -> list[tuple[Any, ...]]:
        """Every stored event's id, version, topic and state, read past the app."""
        columns = "originator_id, originator_version, topic, state"
        if self.name == "sqlite":
            with closing(sqlite3.connect(self.settings.events_path)) as db:
                return db.execute(f"SELECT {columns} FROM stored_events").fetchall()
        with psycopg.connect(URL) as db:
            db.execute(f'SET search_path TO "{self.env["POSTGRES_SCHEMA"]}"')
            return db.execute(f"SELECT {columns} FROM verdictledger_events").fetchall()

    def close(self) -> None:
        """Closes every ledger opened here."""
        for opened in self.opened:
            opened.close()


@contextmanager
def appends_held(settings: Settings) -> Iterator[None]:
    """Holds the event store's write lock: every append waits until the block ends.

    Reads go on, so writers that start now decide on what they read and meet
    at the append. SQLite's lock is taken by ``BEGIN IMMEDIATE`` on the file,
    PostgreSQL's by the table lock the recorder takes to append, in the
    schema the environment names (as the test's ledgers find it).
    """
    if settings.event_store is None:
        lock = sqlite3.connect(settings.events_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    with psycopg.connect(settings.event_store) as db:
        db.execute(f'SET search_path TO "{os.environ["POSTGRES_SCHEMA"]}"')
        db.execute("LOCK TABLE verdictledger_events IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            db.rollback()


def stores_for(item: pytest.Metafunc) -> list[str]:
    """The stores a test runs on: both, or SQLite alone when it says why."""
    marker = item.definition.get_closest_marker("sqlite_only")
    if marker is None:
        return list(STORES)
    if not marker.args or not str(marker.args[0]).strip():
        msg = f"{item.definition.nodeid}: sqlite_only needs a reason"
        raise pytest.UsageError(msg)
    return ["sqlite"]


def open_store(
    name: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """Yields the :class:`Store` called ``name`` on ``home``; cleans up after."""
    if name == "sqlite":
        store = Store("sqlite", Settings(home=home))
        try:
            yield store
        finally:
            store.close()
        return
    for postgres in private_schema(home):
        monkeypatch.setenv("LEDGER_EVENT_STORE", URL)
        monkeypatch.setenv("POSTGRES_SCHEMA", postgres.env["POSTGRES_SCHEMA"])
        # The list is shared, so the ledgers are closed before the schema goes.
        yield Store("postgres", postgres.settings, postgres.env, postgres.opened)
