"""``ledger keys export`` / ``ledger keys import``: the keys move with the log.

An embedded ledger is moved to PostgreSQL the way the README says: the log
with ``ledger export`` / ``ledger import``, the person keys with ``ledger
keys export`` / ``ledger keys import``. Every command runs as a process. On
the new store the reviewers' names read as before, and an erased person's
data stays erased: their key was never exported.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ledger import demo
from ledger.application import Ledger
from ledger.personal_data import ERASED
from ledger.settings import Settings
from tests.helpers import URL, Postgres
from tests.projections.helpers import run_ledger


def _names(ledger: Ledger) -> dict[str, str]:
    try:
        return {handle: ledger.reviewer(handle)["name"] for handle in demo.REVIEWERS}
    finally:
        ledger.close()


@pytest.mark.postgres
def test_an_embedded_ledger_moved_to_postgres_keeps_its_names_readable(
    postgres: Postgres, tmp_path: Path
) -> None:
    source = tmp_path / "embedded"
    ledger = Ledger(Settings(home=source))
    demo.load(ledger)
    ledger.close()
    erased = run_ledger(source, "erase", "reviewer:skeptic", "--reason", "asked")
    assert erased.returncode == 0, erased.stderr

    exported = run_ledger(source, "export")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "log.ndjson").write_text(exported.stdout)
    keys_file = tmp_path / "keys.ndjson"
    keys = run_ledger(source, "keys", "export", "--output", str(keys_file))
    assert keys.returncode == 0, keys.stderr
    assert "keep it secret" in keys.stderr
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    persons = [
        json.loads(line).get("person") for line in keys_file.read_text().splitlines()
    ]
    assert persons == [None, "reviewer:builder", "reviewer:buyer", "reviewer:futurist"]

    target = postgres.settings.home
    env = {**postgres.env, "LEDGER_EVENT_STORE": URL}
    done = run_ledger(target, "import", str(tmp_path / "log.ndjson"), env=env)
    assert done.returncode == 0, done.stderr
    assert set(_names(postgres.ledger()).values()) == {ERASED}, "no keys yet"
    done = run_ledger(target, "keys", "import", str(keys_file), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 3 key(s)")
    assert _names(postgres.ledger()) == {
        "builder": "The Builder",
        "skeptic": ERASED,
        "futurist": "The Futurist",
        "buyer": "The Buyer",
    }
    again = run_ledger(target, "keys", "import", str(keys_file), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("imported 0 key(s); 3 already here")
    assert not (target / "keys.sqlite").exists(), "PostgreSQL keeps its own keys"


def test_a_key_file_that_disagrees_or_is_malformed_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ledger = Ledger(Settings(home=home))
    demo.load(ledger)
    ledger.close()
    exported = run_ledger(home, "keys", "export")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    other = json.loads(lines[1]) | {"key": "A" * 43}
    (tmp_path / "other.ndjson").write_text(f"{lines[0]}\n{json.dumps(other)}\n")
    done = run_ledger(home, "keys", "import", str(tmp_path / "other.ndjson"))
    assert done.returncode == 1
    assert "1 person(s) already have another key here" in done.stderr
    assert _names(Ledger(Settings(home=home)))["builder"] == "The Builder"

    short = json.loads(lines[1]) | {"person": "reviewer:new", "key": "AAAA"}
    (tmp_path / "short.ndjson").write_text(f"{lines[0]}\n{json.dumps(short)}\n")
    done = run_ledger(home, "keys", "import", str(tmp_path / "short.ndjson"))
    assert done.returncode == 1
    assert "short.ndjson:2: not a person's key" in done.stderr
    (tmp_path / "log.ndjson").write_text(run_ledger(home, "export").stdout)
    done = run_ledger(home, "keys", "import", str(tmp_path / "log.ndjson"))
    assert done.returncode == 1
    assert "not an export of `ledger keys export`" in done.stderr
