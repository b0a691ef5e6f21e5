"""The keys personal data is sealed with, in a backup and back from it.

A backup of an embedded ledger holds ``keys.sqlite`` (mode 0600, as of one
commit, in its own rollback-journal mode), so a restored ledger still reads
its reviewers' names; a backup made after an erasure holds no byte of the
erased person's key, so a restore cannot bring their data back.
"""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.context import Context
from ledger.personal_data import ERASED
from ledger.settings import Settings
from projections.backup_manifest import Manifest
from tests.api.helpers import make_home
from tests.projections.helpers import run_ledger

EMBEDDED = "keys.sqlite is the embedded store's keyring; PostgreSQL keeps its own"
CTX = Context(actor="system", request_id="test")


def _names(home: Path) -> dict[str, str]:
    ledger = Ledger(Settings(home=home))
    try:
        return {
            handle: ledger.reviewer(handle)["name"] for handle in ("builder", "skeptic")
        }
    finally:
        ledger.close()


def _key(home: Path, person: str) -> bytes:
    ledger = Ledger(Settings(home=home))
    try:
        key = ledger.keyring.key(person, create=False)
    finally:
        ledger.close()
    assert key is not None
    return key


def _journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


def _backed_up(home: Path, target: Path) -> Manifest:
    done = run_ledger(home, "backup", str(target))
    assert done.returncode == 0, done.stderr
    assert "left out keys.sqlite" not in done.stderr
    return Manifest.read(target)


@pytest.mark.sqlite_only(EMBEDDED)
def test_a_restored_ledger_reads_its_reviewers_names(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    manifest = _backed_up(home, tmp_path / "backup")
    assert manifest.files["keys.sqlite"].mode == "0600"
    copied = tmp_path / "backup" / "keys.sqlite"
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    assert _journal_mode(home / "keys.sqlite") == "delete", "never switched to WAL"
    assert _journal_mode(copied) == "delete"

    restored = tmp_path / "restored"
    done = run_ledger(restored, "restore", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((restored / "keys.sqlite").stat().st_mode) == 0o600
    assert _names(restored) == {"builder": "The Builder", "skeptic": "The Skeptic"}


@pytest.mark.sqlite_only(EMBEDDED)
def test_a_backup_after_an_erasure_holds_no_key_of_the_erased(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    erased_key = _key(home, "reviewer:skeptic")
    kept_key = _key(home, "reviewer:builder")
    _backed_up(home, tmp_path / "before")
    assert erased_key in (tmp_path / "before" / "keys.sqlite").read_bytes()

    done = run_ledger(home, "erase", "reviewer:skeptic", "--reason", "asked")
    assert done.returncode == 0, done.stderr
    _backed_up(home, tmp_path / "after")
    for path in (tmp_path / "after").iterdir():
        data = path.read_bytes()
        assert erased_key not in data, path.name
        assert b"The Skeptic" not in data, path.name
    assert kept_key in (tmp_path / "after" / "keys.sqlite").read_bytes()

    restored = tmp_path / "restored"
    done = run_ledger(restored, "restore", str(tmp_path / "after"))
    assert done.returncode == 0, done.stderr
    assert _names(restored) == {"builder": "The Builder", "skeptic": ERASED}
    again = run_ledger(restored, "erase", "reviewer:skeptic", "--reason", "asked")
    assert again.returncode == 2
    assert "erased already" in again.stderr
