"""Fixtures shared by every test: a fresh ledger home and the ledger on it.

Everything is real: each test gets its own event store, a SQLite file in a
temporary directory or a private schema on the PostgreSQL server (a test that
takes ``event_store`` or ``ledger`` runs on both, see ``tests/stores.py``),
and reads back what the commands appended from the log itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ledger import log
from ledger.application import Ledger
from tests.helpers import Postgres, private_schema
from tests.stores import EmptyLogs, Store, open_store, stores_for

ReadLog = Callable[..., list[log.LoggedEvent]]
HOME = "home"
"""The test's ledger home in its ``tmp_path`` (a folder may override ``home``
with one built on ``event_store``, as the API tests' demo home is)."""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A LEDGER_HOME that does not exist yet, as on a first start."""
    return tmp_path / HOME


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs every test on ``event_store`` once per store (see ``stores_for``)."""
    if "event_store" in metafunc.fixturenames:
        metafunc.parametrize("event_store", stores_for(metafunc), indirect=True)


@pytest.fixture
def event_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The event store of the home: SQLite, or a private PostgreSQL schema."""
    yield from open_store(request.param, tmp_path / HOME, monkeypatch)


@pytest.fixture(autouse=True)
def _store_only_from_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps a shell's ``LEDGER_EVENT_STORE`` from moving tests to its store."""
    monkeypatch.delenv("LEDGER_EVENT_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_SCHEMA", raising=False)


@pytest.fixture
def empty_logs(event_store: Store) -> Iterator[EmptyLogs]:
    """Fresh logs per example of a property test, on each event store."""
    with ExitStack() as stack:
        yield EmptyLogs(event_store, stack)


@pytest.fixture
def ledger(event_store: Store) -> Ledger:
    """The ledger on ``home``'s event store, closed after the test."""
    return event_store.ledger()


@pytest.fixture
def events(ledger: Ledger) -> ReadLog:
    """Reads the log's events: ``events()`` all, ``events(after=N)`` newer ones."""

    def read(after: int = 0, limit: int = 100_000) -> list[log.LoggedEvent]:
        return log.read(ledger.recorder, after=after, limit=limit)

    return read


@pytest.fixture
def postgres(home: Path) -> Iterator[Postgres]:
    """Ledgers on a private schema of the PostgreSQL test database."""
    yield from private_schema(home)
