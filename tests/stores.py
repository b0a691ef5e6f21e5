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

A property test takes ``empty_logs`` (:class:`EmptyLogs`) for an empty log
per example, and a fixture wider than one test, such as a module's served
node, is parametrised over :data:`STORES` and puts its log on the store with
:func:`store_env`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger.application import Ledger
from ledger.auth import TokenStoreBase, open_token_store
from ledger.postgres_tables import Place
from ledger.postgres_tokens import TABLE as TOKENS_TABLE
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

    def token_store(self) -> TokenStoreBase:
        """The token store every node of this home's log shares."""
        return open_token_store(self.settings, self.env)

    def token_rows(self) -> list[tuple[Any, ...]]:
        """Every stored token's row as kept, read past the token store."""
        if self.name == "sqlite":
            path = self.settings.auth_path
            if not path.exists():
                return []
            with closing(sqlite3.connect(path)) as db:
                return db.execute("SELECT * FROM tokens").fetchall()
        table = Place.of(self.settings, self.env).table(TOKENS_TABLE)
        with psycopg.connect(URL) as db:
            exists = db.execute("SELECT to_regclass(%s)", (table.as_string(db),))
            if exists.fetchone() == (None,):
                return []
            return db.execute(sql.SQL("SELECT * FROM {}").format(table)).fetchall()

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


@dataclass
class EmptyLogs:
    """Empty logs for each example of a property test, on the test's store.

    Hypothesis runs a test's body many times under one fixture, and each
    example needs logs of its own. On SQLite they are new files in the homes
    the example names; on PostgreSQL they are the test's private schemas,
    emptied with their positions restarted, since a schema per example would
    cost more than most examples do.

    Attributes:
        store: The test's event store; its schema holds the first log.
        stack: Drops the schemas made for second and later logs.
        schemas: On PostgreSQL, the schema of each log asked for so far.
    """

    store: Store
    stack: ExitStack
    schemas: list[str] = field(default_factory=list)

    def fresh(self, *homes: Path) -> list[Store]:
        """One store per home, each with an empty log.

        The caller closes the ledgers it opens on them, before the next
        example empties the logs.
        """
        if self.store.name == "sqlite":
            return [Store("sqlite", Settings(home=home)) for home in homes]
        if not self.schemas:
            self.schemas.append(self.store.env["POSTGRES_SCHEMA"])
        while len(self.schemas) < len(homes):
            extra = self.stack.enter_context(contextmanager(private_schema)(homes[0]))
            self.schemas.append(extra.env["POSTGRES_SCHEMA"])
        with psycopg.connect(URL, autocommit=True) as db:
            for schema in self.schemas[: len(homes)]:
                table = f'"{schema}".verdictledger_events'
                if db.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                    db.execute(f"TRUNCATE {table} RESTART IDENTITY")
        return [
            Store(
                "postgres",
                replace(self.store.settings, home=home),
                {"POSTGRES_SCHEMA": schema},
            )
            for home, schema in zip(homes, self.schemas, strict=False)
        ]


@contextmanager
def store_env(name: str, home: Path) -> Iterator[dict[str, str]]:
    """The environment putting a log on store ``name``, for a fixture wider than a test.

    Empty for SQLite; for PostgreSQL, ``LEDGER_EVENT_STORE`` and the
    ``POSTGRES_SCHEMA`` of a private schema of its own, dropped when the
    block ends. ``event_store`` sets these in the process environment for
    one test, and every test starts with them unset; a module's fixture
    passes them to what it starts instead, and sets them only around what
    reads the process environment (:func:`environment`).
    """
    if name == "sqlite":
        yield {}
        return
    with contextmanager(private_schema)(home) as postgres:
        yield {"LEDGER_EVENT_STORE": URL, **postgres.env}


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Sets ``env`` in the process environment for the block."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield
