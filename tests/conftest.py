"""Fixtures shared by every test: a fresh ledger home and the ledger on it.

Everything is real: each test gets its own SQLite event store in a temporary
directory, and reads back what the commands appended from the log itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger import log
from ledger.application import Ledger
from ledger.settings import Settings
from tests.helpers import Postgres, private_schema

ReadLog = Callable[..., list[log.LoggedEvent]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A LEDGER_HOME that does not exist yet, as on a first start."""
    return tmp_path / "home"


@pytest.fixture
def ledger(home: Path) -> Iterator[Ledger]:
    """The ledger on ``home``'s embedded event store, closed after the test."""
    the_ledger = Ledger(Settings(home=home))
    try:
        yield the_ledger
    finally:
        the_ledger.close()


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
