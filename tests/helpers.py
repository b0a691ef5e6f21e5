"""Helpers every test folder shares: a private PostgreSQL schema per test.

Needs the server at 127.0.0.1:5432 (database ``test``, user ``postgres``,
trust auth); the ``postgres`` fixture skips with the reason if it cannot be
reached, and drops the schema, with the application's tables in it, after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings

URL = "postgresql://postgres@127.0.0.1:5432/test"


class Postgres:
    """Opens ledgers on one private schema of the test database."""

    def __init__(self, home: Path, schema: str) -> None:
        self.settings = Settings(home=home, event_store=URL)
        self.env = {"POSTGRES_SCHEMA": schema}
        self.opened: list[Ledger] = []

    def ledger(self) -> Ledger:
        opened = Ledger(self.settings, self.env)
        self.opened.append(opened)
        return opened


def private_schema(home: Path) -> Iterator[Postgres]:
    """Yields a :class:`Postgres` on a schema of its own; drops it afterwards."""
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {URL}: {error}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        store = Postgres(home, schema)
        try:
            yield store
        finally:
            for opened in store.opened:
                opened.close()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def bench_json(*args: str, timeout: float = 120) -> dict[str, float]:
    """Runs ``scripts/bench.py ARGS --json``; its one line of output, parsed."""
    result = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    figures: dict[str, float] = json.loads(lines[0])
    return figures
