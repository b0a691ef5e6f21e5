"""Moving a ledger between stores with ``ledger export`` and ``ledger import``.

Real stores throughout: SQLite files in temporary homes, a private schema of
the PostgreSQL test server, and the ``ledger`` command in its own process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from ledger import demo, log_transfer
from ledger.application import Ledger
from ledger.context import Context
from ledger.log_import import import_log
from ledger.settings import Settings
from projections import files
from tests.helpers import URL, Postgres
from tests.projections.helpers import LEDGER, dump
from tests.stores import Store

CHAIN_FILES = ("log.key", "checkpoints.sqlite")
"""What a home keeps of the chain besides the log: the key and its checkpoints."""


def ledger_cli(
    home: Path, *args: str, schema: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Runs ``ledger ARGS`` on ``home``, its log in ``schema`` if one is given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LEDGER_EVENT_STORE", "POSTGRES_SCHEMA")
    }
    env["LEDGER_HOME"] = str(home)
    if schema is not None:
        env.update(LEDGER_EVENT_STORE=URL, POSTGRES_SCHEMA=schema)
    return subprocess.run(
        [LEDGER, *args], env=env, capture_output=True, timeout=120, check=False
    )


def exported(home: Path, *args: str, schema: str | None = None) -> bytes:
    done = ledger_cli(home, "export", *args, schema=schema)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def imported(
    home: Path, path: Path, *args: str, schema: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return ledger_cli(home, "import", str(path), *args, schema=schema)


def history(ledger: Ledger) -> None:
    """The demo, then votes, a changed mind and an edit: every kind of event."""
    demo.load(ledger)
    voter = Context("voter")
    for n in range(5):
        ledger.cast_vote(voter, f"v{n}", "code-llama-4", "ship" if n % 2 else "skip")
    ledger.cast_vote(voter, "v1", "code-llama-4", "skip")
    ledger.edit_tool(
        Context("editor:e"), "code-llama-4", {"entry": "Paid"}, reason="priced"
    )


def sqlite_ledger(home: Path) -> Ledger:
    return Ledger(Settings(home=home))


def rebuilt(
    home: Path, schema: str | None = None
) -> dict[str, list[tuple[object, ...]]]:
    done = ledger_cli(home, "rebuild", schema=schema)
    assert done.returncode == 0, done.stderr.decode()
    return dump(files.readmodel_path(Settings(home=home)))


def copy_chain(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in CHAIN_FILES:
        shutil.copy2(source / name, target / name)


def head_of(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def demo_export(home: Path) -> bytes:
    """The export of the demo ledger, loaded on ``home``'s SQLite file."""
    source = sqlite_ledger(home)
    demo.load(source)
    source.close()
    return exported(home)


def schema_of(store: Store) -> str | None:
    return store.env.get("POSTGRES_SCHEMA")


@pytest.mark.postgres
def test_sqlite_to_postgres_to_sqlite_keeps_every_byte(
    tmp_path: Path, postgres: Postgres
) -> None:
    # given a ledger on SQLite with a signed checkpoint
    first, last = tmp_path / "first", tmp_path / "last"
    middle, schema = postgres.settings.home, postgres.env["POSTGRES_SCHEMA"]
    source = sqlite_ledger(first)
    history(source)
    source.close()
    assert ledger_cli(first, "checkpoint").returncode == 0
    # when it is moved to PostgreSQL, and from there to a new SQLite file
    a = tmp_path / "a.ndjson"
    a.write_bytes(exported(first))
    copy_chain(first, middle)
    done = imported(middle, a, schema=schema)
    assert done.returncode == 0, done.stderr.decode()
    b = tmp_path / "b.ndjson"
    b.write_bytes(exported(middle, schema=schema))
    copy_chain(first, last)
    done = imported(last, b)
    assert done.returncode == 0, done.stderr.decode()
    c = exported(last)
    # then the exports of both SQLite stores are the same bytes, and PostgreSQL's
    # differs only in the store its header names
    assert c == a.read_bytes()
    header_a, *rest_a = a.read_bytes().splitlines()
    header_b, *rest_b = b.read_bytes().splitlines()
    assert rest_b == rest_a
    assert json.loads(header_a) == {**json.loads(header_b), "store": "sqlite"}
    assert json.loads(header_b)["store"] == "postgresql"
    assert len(rest_a) == json.loads(header_a)["head"] + 1
    # and every copy verifies against the checkpoint signed before the move
    for home, on in ((middle, schema), (last, None)):
        verified = ledger_cli(home, "verify", "--json", schema=on)
        assert verified.returncode == 0, verified.stdout.decode()
    # and rebuilds the same read models
    assert rebuilt(middle, schema) == rebuilt(first) == rebuilt(last)
    # and PostgreSQL numbers new events after the imported ones
    moved = postgres.ledger()
    receipt = moved.cast_vote(Context("voter"), "v9", "code-llama-4", "ship")
    assert receipt.position == json.loads(header_a)["head"] + 1


def test_after_exports_only_later_events_which_append_continues(
    tmp_path: Path, event_store: Store
) -> None:
    # given a ledger moved whole, and events appended to it after the move
    source_home, target_home = tmp_path / "source", event_store.settings.home
    schema = schema_of(event_store)
    source = sqlite_ledger(source_home)
    demo.load(source)
    moved_at = head_of(source)
    whole = tmp_path / "whole.ndjson"
    whole.write_bytes(exported(source_home))
    assert imported(target_home, whole, schema=schema).returncode == 0
    source.cast_vote(Context("voter"), "late", "code-llama-4", "ship")
    source.close()
    # when only the events after the move are exported
    later = tmp_path / "later.ndjson"
    later.write_bytes(exported(source_home, "--after", str(moved_at)))
    header, *events, trailer = [
        json.loads(line) for line in later.read_bytes().splitlines()
    ]
    # then the file holds those alone
    assert header["after"] == moved_at
    assert [event["position"] for event in events] == [moved_at + 1]
    assert trailer["count"] == 1
    # and they are appended to the moved ledger with --append only
    refused = imported(target_home, later, schema=schema)
    assert refused.returncode == 1
    assert b"--append" in refused.stderr
    done = imported(target_home, later, "--append", schema=schema)
    assert done.returncode == 0, done.stderr.decode()
    moved, kept = exported(target_home, schema=schema), exported(source_home)
    assert moved.splitlines()[1:] == kept.splitlines()[1:]
    # and a file that does not start at the store's head is refused even so
    again = imported(target_home, later, "--append", schema=schema)
    assert again.returncode == 1
    assert b"would leave a gap or a duplicate" in again.stderr


def _rewritten(good: bytes, change: str) -> bytes:
    """``good`` spoilt in one way."""
    lines = good.splitlines(keepends=True)
    if change == "cut at a line":
        return b"".join(lines[:-1])
    if change == "cut mid-line":
        return good[: len(good) // 2]
    if change == "wrong checksum":
        trailer = json.loads(lines[-1])
        trailer["sha256"] = hashlib.sha256(b"other").hexdigest()
        return b"".join([*lines[:-1], json.dumps(trailer).encode() + b"\n"])
    if change == "altered state":
        event = json.loads(lines[3])
        state = base64.b64decode(event["state"]).replace(b'"actor":"', b'"actor":"x')
        assert state != base64.b64decode(event["state"])
        event["state"] = base64.b64encode(state).decode()
        lines[3] = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        return b"".join(lines)
    assert change == "malformed line"
    lines[2] = b'{"position": 2, "originator_id": \n'
    return b"".join(lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("cut at a line", b"not the trailer (is the file cut short?)"),
        ("cut mid-line", b"the file ends mid-line: it was cut short"),
        ("wrong checksum", b"it was altered or cut short"),
        ("altered state", b"it was altered or cut short"),
        ("malformed line", b"line 3: not an event"),
    ],
)
def test_a_spoilt_file_is_refused_and_nothing_appended(
    tmp_path: Path, event_store: Store, change: str, message: bytes
) -> None:
    # given an export of the demo ledger, spoilt
    target_home = event_store.settings.home
    spoilt = tmp_path / "spoilt.ndjson"
    spoilt.write_bytes(_rewritten(demo_export(tmp_path / "source"), change))
    # when it is imported
    done = imported(target_home, spoilt, schema=schema_of(event_store))
    # then the import is refused, saying why, and the store stays empty
    assert done.returncode == 1
    assert message in done.stderr
    assert b"nothing was imported" in done.stderr
    assert head_of(event_store.ledger()) == 0


def test_a_store_that_holds_events_is_refused(
    tmp_path: Path, event_store: Store
) -> None:
    # given an export, and another ledger that already holds events
    target_home, schema = event_store.settings.home, schema_of(event_store)
    export = tmp_path / "log.ndjson"
    export.write_bytes(demo_export(tmp_path / "source"))
    event_store.ledger().register_tool(
        Context("editor:e"), "other", {"name": "Other", "vendor": "V", "category": "C"}
    )
    before = exported(target_home, schema=schema)
    # when the export is imported into it
    done = imported(target_home, export, schema=schema)
    # then it is refused and the store holds what it held
    assert done.returncode == 1
    assert b"already holds events up to position 1" in done.stderr
    assert exported(target_home, schema=schema) == before


def test_a_row_the_store_refuses_midway_leaves_nothing(
    tmp_path: Path, event_store: Store
) -> None:
    # given a well-formed file whose last event repeats an aggregate version
    header, *events, _trailer = demo_export(tmp_path / "source").splitlines(
        keepends=True
    )
    duplicate = json.loads(events[0])
    head = json.loads(header)["head"]
    duplicate["position"] = head + 1
    events.append(json.dumps(duplicate, separators=(",", ":")).encode() + b"\n")
    meta = json.loads(header)
    meta["head"] = head + 1
    body = b"".join(events)
    trailer = {"count": len(events), "sha256": hashlib.sha256(body).hexdigest()}
    spoilt = tmp_path / "duplicate.ndjson"
    spoilt.write_bytes(
        json.dumps(meta).encode() + b"\n" + body + json.dumps(trailer).encode() + b"\n"
    )
    # when it is imported a batch of one event at a time
    done = imported(
        event_store.settings.home,
        spoilt,
        "--batch-size",
        "1",
        schema=schema_of(event_store),
    )
    # then the store refuses the repeat, and none of the events before it stay
    assert done.returncode == 1
    assert b"the store refused the import, nothing was imported" in done.stderr
    assert head_of(event_store.ledger()) == 0


@pytest.mark.postgres
def test_positions_postgres_skipped_stay_skipped_on_sqlite(
    tmp_path: Path, postgres: Postgres
) -> None:
    # given a PostgreSQL log whose positions skip numbers, as failed inserts leave
    source = postgres.ledger()
    demo.load(source)
    table = f'"{postgres.env["POSTGRES_SCHEMA"]}".{source.recorder.events_table_name}'
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), 100)",
            (table,),
        )
    source.cast_vote(Context("voter"), "v1", "code-llama-4", "ship")
    # when it is exported and imported into SQLite in small batches
    path = tmp_path / "log.ndjson"
    with path.open("wb") as out:
        log_transfer.export(source.recorder, out, batch_size=4)
    target = sqlite_ledger(tmp_path / "target")
    try:
        checked = log_transfer.check(path)
        told: list[int] = []
        count = import_log(
            target.recorder, checked, append=False, batch_size=4, progress=told.append
        )
        # then every event keeps its position, the gap included
        moved = [n.id for n in target.recorder.select_notifications(0, 1000)]
        kept = [n.id for n in source.recorder.select_notifications(0, 1000)]
        assert moved == kept
        assert moved[-1] == 101
        assert moved[-2] < 100
        assert count == len(kept)
        # and the progress was told after every batch of four
        assert told == [*range(4, count, 4), count]
    finally:
        target.close()
