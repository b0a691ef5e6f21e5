"""``scripts/bench.py postgres`` runs, reports in the agreed shape, and tidies up.

This checks the benchmark's output and its schemas on tiny numbers, never
its speed.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import BENCH, URL, bench_json

KEYS = {
    "es_save_per_s",
    "cmd_1w_per_s",
    "cmd_4w_per_s",
    "ratio_cmd_vs_es",
    "ratio_4w_vs_1w",
    "rebuild_pg_per_s",
    "rebuild_sqlite_per_s",
    "ratio_rebuild_pg_vs_sqlite",
    "node_lag_p99_ms",
}
TINY = (
    "--count", "8", "--rounds", "1", "--events", "1000",
    "--rebuild-rounds", "1", "--samples", "5",
)  # fmt: skip


@pytest.fixture
def admin() -> Iterator[psycopg.Connection]:
    """A connection to the server's test database, to look at its schemas."""
    try:
        conn = psycopg.connect(URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {URL}: {error}")
    with conn:
        yield conn


def schemas(admin: psycopg.Connection, prefix: str) -> set[str]:
    rows = admin.execute(
        "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
    ).fetchall()
    return {name for (name,) in rows}


def test_postgres_json_has_the_agreed_figures_and_drops_its_schemas(
    tmp_path: Path, admin: psycopg.Connection
) -> None:
    prefix = f"bench_test_{uuid.uuid4().hex[:12]}"
    # when the benchmark runs on tiny numbers with --json
    figures = bench_json(
        "postgres", *TINY, "--schema", prefix, "--dir", str(tmp_path), timeout=240
    )
    # then it prints one object with every agreed figure, all measured
    assert set(figures) == KEYS | {"events", "node_lag_p50_ms"}
    assert all(figures[key] > 0 for key in KEYS - {"node_lag_p99_ms"})
    assert figures["node_lag_p99_ms"] >= 0
    assert figures["events"] >= 1000
    one, four = figures["cmd_1w_per_s"], figures["cmd_4w_per_s"]
    assert figures["ratio_4w_vs_1w"] == pytest.approx(four / one, rel=0.01)
    # and it dropped its schemas and removed its files
    assert schemas(admin, prefix) == set()
    assert list(tmp_path.iterdir()) == []


def test_postgres_refuses_a_schema_that_exists_and_leaves_it_alone(
    tmp_path: Path, admin: psycopg.Connection
) -> None:
    prefix = f"bench_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{prefix}_log"')
    admin.execute(f'CREATE TABLE "{prefix}_log".kept (id int)')
    try:
        # when the benchmark is told to use a prefix whose log schema exists
        result = subprocess.run(
            [
                *(sys.executable, str(BENCH), "postgres", *TINY),
                *("--schema", prefix, "--dir", str(tmp_path)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # then it says so and stops, dropping only the schema it made
        assert result.returncode != 0
        assert f"schema {prefix}_log already exists" in result.stderr
        assert schemas(admin, prefix) == {f"{prefix}_log"}
        kept = admin.execute(f'SELECT count(*) FROM "{prefix}_log".kept').fetchone()
        assert kept == (0,)
        assert list(tmp_path.iterdir()) == []
    finally:
        admin.execute(f'DROP SCHEMA "{prefix}_log" CASCADE')
