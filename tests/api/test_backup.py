"""``ledger backup`` and ``ledger restore``: quiet, under write load, and refused.

Everything is real: the commands run as processes on SQLite files, the load
comes over HTTP from ``ledger serve``, and a restored home is checked by
reading its log, folding it afresh and running ``ledger verify`` on it.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api import create_app
from ledger import log
from ledger.application import Ledger
from ledger.auth import open_token_store
from ledger.settings import Settings
from projections import Projector, readmodel_path
from projections.backup import backup
from projections.backup_manifest import MANIFEST, BackupError, Manifest, sha256_of
from projections.rebuild import build
from projections.restore import restore
from tests.api.helpers import CARD, issue_tokens, make_home, served, settings_for
from tests.helpers import URL, Postgres
from tests.projections.helpers import CTX, FIELDS, dump, run_ledger

HOME_FILES = {
    "secret.key",
    "auth.sqlite",
    "checkpoints.sqlite",
    "log.key",
    "readmodel.sqlite",
    "api.sqlite",
    "events.sqlite",
    "keys.sqlite",
}
TOOL = {"slug": "kept-tool", "name": "Kept", "vendor": "V", "category": "C"}

COPIES_THE_LOG_FILE = (
    "a backup copies an embedded log; a PostgreSQL one is dumped with its own"
    " tools (the PostgreSQL tests below)"
)


def _events(home: Path, up_to: int | None = None) -> list[log.LoggedEvent]:
    ledger = Ledger(Settings(home=home))
    try:
        found = log.read(ledger.recorder, after=0, limit=1_000_000)
    finally:
        ledger.close()
    return [event for event in found if up_to is None or event.position <= up_to]


def _tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``, by path, with its bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _clean_views(home: Path, tmp: Path) -> dict[str, list[tuple[object, ...]]]:
    """The read models a clean rebuild of ``home``'s whole log gives."""
    ledger = Ledger(Settings(home=home))
    try:
        build(ledger, tmp / "clean.sqlite")
    finally:
        ledger.close()
    return dump(tmp / "clean.sqlite")


def _backed_up(home: Path, target: Path) -> Manifest:
    done = run_ledger(home, "backup", str(target))
    assert done.returncode == 0, done.stderr
    # Every file a ledger (or its server) makes is in the backup or known to
    # be transient; only the test server's own log is not.
    left_out = [line for line in done.stderr.splitlines() if "left out" in line]
    assert [line for line in left_out if "left out serve-" not in line] == []
    return Manifest.read(target)


def _signed(home: Path) -> dict[str, str]:
    """Gives the demo ``home`` tokens, read models and a checkpoint."""
    tokens = issue_tokens(home)
    assert run_ledger(home, "checkpoint").returncode == 0
    return tokens


def _create_kept_tool(client: TestClient[Litestar], token: str) -> httpx.Response:
    """Registers a tool with an ``Idempotency-Key``."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "create-kept"}
    return client.post("/api/tools", json=TOOL, headers=headers)


def _quiet(home: Path) -> dict[str, str]:
    """Gives the demo ``home`` tokens, a vote, an idempotent create, a checkpoint."""
    tokens = issue_tokens(home)
    with TestClient(app=create_app(settings_for(home))) as client:
        voted = client.put(
            CARD + "/vote",
            json={"choice": "ship"},
            headers={"Authorization": f"Bearer {tokens['voter']}"},
        )
        assert voted.status_code == 201
        created = _create_kept_tool(client, tokens["editor"])
        assert created.status_code == 201
    assert run_ledger(home, "checkpoint").returncode == 0
    return tokens


@pytest.mark.sqlite_only(COPIES_THE_LOG_FILE)
def test_a_quiet_ledger_restores_to_an_equal_ledger_whose_tokens_work(
    home: Path, tmp_path: Path
) -> None:
    tokens = _quiet(home)
    target = tmp_path / "backup"
    manifest = _backed_up(home, target)
    head = len(_events(home))
    assert set(manifest.files) == HOME_FILES
    assert manifest.event_store == "sqlite"
    assert manifest.log_head == manifest.projected_position == head
    assert manifest.checkpoint_size == head
    for name, entry in manifest.files.items():
        assert (target / name).stat().st_size == entry.size
        assert sha256_of(target / name) == entry.sha256
    for secret in ("secret.key", "log.key", "keys.sqlite"):
        assert stat.S_IMODE((target / secret).stat().st_mode) == 0o600

    restored = tmp_path / "restored"
    done = run_ledger(restored, "restore", str(target))
    assert done.returncode == 0, done.stderr
    assert _events(restored) == _events(home)
    assert dump(readmodel_path(Settings(home=restored))) == dump(
        readmodel_path(Settings(home=home))
    )
    assert stat.S_IMODE((restored / "secret.key").stat().st_mode) == 0o600
    assert run_ledger(restored, "verify").returncode == 0

    with TestClient(app=create_app(settings_for(restored))) as client:
        # The same voter changes their vote: the secret that keys voters came back.
        changed = client.put(
            CARD + "/vote",
            json={"choice": "skip"},
            headers={"Authorization": f"Bearer {tokens['voter']}"},
        )
        assert changed.status_code == 200, changed.text
        card = client.get(CARD, params={"min_position": changed.json()["position"]})
        community = card.json()["community"]
        assert (community["ship"], community["skip"]) == (0, 1)
        # A write acknowledged before the backup is not performed again.
        retried = _create_kept_tool(client, tokens["editor"])
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"


@pytest.mark.sqlite_only(COPIES_THE_LOG_FILE)
def test_commits_still_in_the_wal_are_in_the_backup(home: Path, tmp_path: Path) -> None:
    ledger = Ledger(Settings(home=home))
    try:
        for voter in range(5):
            ledger.cast_vote(CTX, f"wal-{voter}", "code-llama-4", "ship")
        head = ledger.head_position()
        wal = home / "events.sqlite-wal"
        assert wal.stat().st_size > 0
        # What `cp events.sqlite` would keep: the main file alone.
        shutil.copy(home / "events.sqlite", tmp_path / "cp.sqlite")
        copied = sqlite3.connect(tmp_path / "cp.sqlite")
        assert (
            copied.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] < head
        )
        copied.close()
        manifest = backup(ledger, tmp_path / "backup")
    finally:
        ledger.close()
    assert manifest.log_head == head
    restored = tmp_path / "restored"
    restore(tmp_path / "backup", Settings(home=restored))
    assert [e.position for e in _events(restored)] == list(range(1, head + 1))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of a demo home with tokens, read models and a checkpoint."""
    home = make_home(tmp_path_factory.mktemp("pristine"))
    _signed(home)
    target = home.parent / "backup"
    _backed_up(home, target)
    return target


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_from_manifest(target: Path, name: str) -> None:
    raw = json.loads((target / MANIFEST).read_text())
    del raw["files"][name]
    (target / MANIFEST).write_text(json.dumps(raw))


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda t: _flip_a_byte(t / "events.sqlite"), "damaged: events.sqlite"),
        (lambda t: (t / "auth.sqlite").write_bytes(b""), "damaged: auth.sqlite"),
        (lambda t: (t / "readmodel.sqlite").unlink(), "incomplete: readmodel.sqlite"),
        (lambda t: (t / MANIFEST).unlink(), f"has no {MANIFEST}"),
        (lambda t: (t / "secret.key").unlink(), "no server secret (secret.key)"),
        (
            lambda t: (
                _drop_from_manifest(t, "secret.key"),
                (t / "secret.key").unlink(),
            ),
            "no server secret (secret.key)",
        ),
        (lambda t: _drop_from_manifest(t, "events.sqlite"), "lists no events.sqlite"),
    ],
    ids=[
        "corrupt",
        "truncated",
        "missing",
        "no-manifest",
        "no-secret",
        "unlisted-secret",
        "unlisted-log",
    ],
)
def test_a_damaged_or_incomplete_backup_is_refused_and_nothing_changes(
    home: Path,
    tmp_path: Path,
    pristine: Path,
    damage: Callable[[Path], object],
    named: str,
) -> None:
    target = tmp_path / "backup"
    shutil.copytree(pristine, target)
    damage(target)
    for where in (tmp_path / "fresh" / "home", home):
        before = _tree(where.parent)  # the home, and no restore left beside it
        refused = run_ledger(where, "restore", "--force", str(target))
        assert refused.returncode == 1
        assert named in refused.stderr
        assert _tree(where.parent) == before


def _backup_and_another_ledger(home: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A backup of ``home``, and the home of another ledger to restore it over."""
    target = tmp_path / "backup"
    _backed_up(home, target)
    other = tmp_path / "other"
    ledger = Ledger(Settings(home=other))
    try:
        ledger.register_tool(CTX, "other-tool", FIELDS)
    finally:
        ledger.close()
    return target, other


@pytest.mark.sqlite_only(COPIES_THE_LOG_FILE)
def test_a_home_that_holds_a_ledger_is_replaced_only_when_forced(
    home: Path, tmp_path: Path
) -> None:
    target, other = _backup_and_another_ledger(home, tmp_path)
    before = _tree(other)
    refused = run_ledger(other, "restore", str(target))
    assert refused.returncode == 1
    assert "is not empty; pass --force" in refused.stderr
    assert _tree(other) == before

    forced = run_ledger(other, "restore", "--force", str(target))
    assert forced.returncode == 0, forced.stderr
    assert _events(other) == _events(home)
    assert sorted(p.name for p in other.parent.iterdir()) == sorted(
        ["backup", home.name, "other"]
    )


KILLED_MIDWAY = """
import os, signal, sys
from pathlib import Path
from ledger.settings import Settings
from projections.restore import restore

seen = []

def told(name, done, total):
    seen.append(name)
    if seen.count("events.sqlite") == 2:  # checked once, now being copied
        os.kill(os.getpid(), signal.SIGKILL)

restore(Path(sys.argv[1]), Settings(home=Path(sys.argv[2])), force=True, progress=told)
"""


@pytest.mark.sqlite_only(COPIES_THE_LOG_FILE)
def test_a_restore_killed_midway_leaves_the_old_home_in_place(
    home: Path, tmp_path: Path
) -> None:
    target, other = _backup_and_another_ledger(home, tmp_path)
    before = _tree(other)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MIDWAY, str(target), str(other)],
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert _tree(other) == before
    assert any(p.name.startswith(".other.restore-") for p in tmp_path.iterdir())

    again = run_ledger(other, "restore", "--force", str(target))
    assert again.returncode == 0, again.stderr
    assert _events(other) == _events(home)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_backup_refuses_a_home_without_its_secret_and_a_used_directory(
    home: Path, tmp_path: Path
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    refused = run_ledger(home, "backup", str(used))
    assert refused.returncode == 1
    assert "is not an empty directory" in refused.stderr
    assert [p.name for p in used.iterdir()] == ["notes.txt"]

    (home / "secret.key").unlink()
    refused = run_ledger(home, "backup", str(tmp_path / "new"))
    assert refused.returncode == 1
    assert "no server secret (secret.key)" in refused.stderr
    assert not (home / "secret.key").exists()
    assert not (tmp_path / "new").exists()


@pytest.mark.sqlite_only(COPIES_THE_LOG_FILE)
def test_a_backup_under_http_writes_restores_to_the_log_at_its_position(
    home: Path, tmp_path: Path
) -> None:
    tokens = issue_tokens(home)
    start = len(_events(home))
    acked: list[int] = []
    stop = threading.Event()

    def vote(base: str, token: str) -> None:
        choices = ("ship", "skip")
        sent = 0
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                sent += 1  # each vote changes this voter's last one: an event
                answer = client.put(
                    CARD + "/vote",
                    json={"choice": choices[sent % 2]},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if answer.status_code in (200, 201):
                    acked.append(answer.json()["position"])

    def wait_for(count: int) -> None:
        while len(acked) < count and all(t.is_alive() for t in writers):
            stop.wait(0.02)
        assert len(acked) >= count, "the writers stopped"

    target = tmp_path / "backup"
    env = {"LEDGER_CHECKPOINT_EVERY": "5"}
    with served(home, workers=2, env=env) as base:
        writers = [
            threading.Thread(target=vote, args=(base, tokens[who]))
            for who in ("voter", "voter2")
        ]
        for writer in writers:
            writer.start()
        try:
            wait_for(20)
            manifest = _backed_up(home, target)
            wait_for(len(acked) + 20)
            # A live home is never replaced, even when forced.
            before = {p.name for p in home.iterdir()}
            refused = run_ledger(home, "restore", "--force", str(target))
            assert refused.returncode == 1
            assert "is in use by process" in refused.stderr
            assert {p.name for p in home.iterdir()} >= before
        finally:
            stop.set()
            for writer in writers:
                writer.join()
    source = _events(home)
    assert start < manifest.log_head < source[-1].position
    assert manifest.projected_position is not None
    assert manifest.checkpoint_size is not None
    assert manifest.checkpoint_size <= manifest.projected_position <= manifest.log_head

    restored = tmp_path / "restored"
    done = run_ledger(restored, "restore", str(target))
    assert done.returncode == 0, done.stderr
    assert _events(restored) == _events(home, up_to=manifest.log_head)
    verified = run_ledger(restored, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    caught_up = run_ledger(restored, "project")
    assert caught_up.returncode == 0, caught_up.stderr
    assert dump(readmodel_path(Settings(home=restored))) == _clean_views(
        restored, tmp_path
    )


@pytest.mark.postgres
def test_a_postgres_ledger_backs_up_its_home_and_the_dump_completes_it(
    postgres: Postgres, tmp_path: Path
) -> None:
    ledger = postgres.ledger()
    ledger.register_tool(CTX, "pg-tool", FIELDS)
    tokens = open_token_store(postgres.settings, postgres.env)
    token = tokens.create("editor")
    tokens.close()
    projector = Projector(ledger, readmodel_path(postgres.settings))
    projector.catch_up()
    projector.close()
    manifest = backup(ledger, tmp_path / "backup")
    assert manifest.event_store == "postgresql"
    assert manifest.log_head == ledger.head_position()
    assert set(manifest.files) == {"secret.key", "readmodel.sqlite"}
    before = log.read(ledger.recorder, after=0, limit=1000)
    # The README's procedure: dump the log after the backup; once the
    # database is lost, restore the dump, then the home.
    schema = postgres.env["POSTGRES_SCHEMA"]
    dumped = tmp_path / "backup" / "log.dump"
    pg_dump = ["pg_dump", "--format=custom", f"--file={dumped}"]
    subprocess.run([*pg_dump, f"--schema={schema}", URL], check=True, timeout=60)
    ledger.close()
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    pg_restore = ["pg_restore", "--clean", "--if-exists", f"--dbname={URL}"]
    subprocess.run([*pg_restore, str(dumped)], check=True, timeout=60)

    with pytest.raises(BackupError, match="LEDGER_EVENT_STORE is not set"):
        restore(tmp_path / "backup", Settings(home=tmp_path / "embedded"))
    assert not (tmp_path / "embedded").exists()
    restored = Settings(home=tmp_path / "restored", event_store=URL)
    restore(tmp_path / "backup", restored)
    again = Ledger(restored, postgres.env)
    postgres.opened.append(again)
    assert log.read(again.recorder, after=0, limit=1000) == before
    assert again.head_position() >= manifest.log_head
    # The tokens were in the dump, and the restored secret still keys them.
    tokens = open_token_store(restored, postgres.env)
    try:
        assert tokens.verify(token) is not None
    finally:
        tokens.close()
