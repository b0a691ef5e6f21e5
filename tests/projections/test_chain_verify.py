"""``ledger verify`` over stores tampered with at random; the rebuild's guard.

Each test copies one honest ledger (115 events, five signed checkpoints),
damages the copy's log, checkpoints or read models the way someone with
write access to them could, and runs the real ``ledger`` command on it. The
log is tampered with on both event stores: the SQLite file, or the rows of
the test's private PostgreSQL schema.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from projections import readmodel_path
from projections.chain_verify import verify, verify_ledger
from projections.checkpoints import (
    ChainSettings,
    Checkpoint,
    Checkpointer,
    CheckpointStore,
)
from projections.projector import Projector
from projections.signed_notes import SignerKey, VerifierKey
from projections.source import Raw
from tests.helpers import URL, private_schema
from tests.projections.chain_helpers import StoredEvents, backdate, grow
from tests.projections.helpers import dump, run_ledger
from tests.stores import Store

SEEDS = range(3)
EVENTS = 115


@dataclass(frozen=True)
class Sealed:
    """An honest ledger home whose every event a checkpoint covers."""

    home: Path
    env: dict[str, str]


def _seal(home: Path, settings: Settings, env: dict[str, str]) -> Sealed:
    ledger = Ledger(settings, env)
    grow(ledger, EVENTS - 15)
    chain = ChainSettings.from_env(
        settings, {"LEDGER_CHECKPOINT_EVERY": "25", "LEDGER_CHECKPOINT_SECONDS": "3600"}
    )
    projector = Projector(
        ledger,
        readmodel_path(settings),
        batch_size=10,
        checkpointer=Checkpointer(chain),
    )
    projector.catch_up()
    projector.close()
    ledger.close()
    cli_env = {**env, "LEDGER_EVENT_STORE": settings.event_store or ""}
    assert run_ledger(home, "checkpoint", env=cli_env).returncode == 0
    return Sealed(home, env)


@pytest.fixture(scope="module")
def sealed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Sealed]]:
    """The honest ledger on the store named, built on first use per module."""
    built: dict[str, Sealed] = {}
    with ExitStack() as stack:

        def on(name: str) -> Sealed:
            if name not in built:
                home = tmp_path_factory.mktemp("sealed") / "home"
                if name == "sqlite":
                    built[name] = _seal(home, Settings(home=home), {})
                else:
                    schema = stack.enter_context(contextmanager(private_schema)(home))
                    built[name] = _seal(home, schema.settings, schema.env)
            return built[name]

        yield on


@pytest.fixture
def home(sealed: Callable[[str], Sealed], event_store: Store) -> Path:
    """A copy of the honest ledger on the test's own store."""
    original = sealed(event_store.name)
    copy = event_store.settings.home
    shutil.copytree(original.home, copy)
    if event_store.name == "postgres":
        event_store.ledger().close()  # creates the log's table
        columns = "notification_id, originator_id, originator_version, topic, state"
        table = "verdictledger_events"
        target = f'"{event_store.env["POSTGRES_SCHEMA"]}".{table}'
        with psycopg.connect(URL) as db:
            db.execute(
                f"INSERT INTO {target} ({columns}) SELECT {columns} "
                f'FROM "{original.env["POSTGRES_SCHEMA"]}".{table}'
            )
            db.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                (target, EVENTS),
            )
    return copy


NOT_THE_LOG = (
    "tampers with a node's own SQLite file (checkpoints or read models), the"
    " same on either event store; the log is tampered with on both"
)


def run_verify(home: Path) -> tuple[int, dict[str, Any]]:
    done = run_ledger(home, "verify", "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def only_finding(report: dict[str, Any]) -> dict[str, Any]:
    assert report["ok"] is False
    assert len(report["findings"]) == 1, report["findings"]
    finding: dict[str, Any] = report["findings"][0]
    return finding


def test_an_honest_log_verifies_clean(home: Path) -> None:
    code, report = run_verify(home)
    assert code == 0
    assert report == {
        "ok": True,
        "events": EVENTS,
        "checkpoints": 5,
        "verified_size": EVENTS,
        "findings": [],
    }
    done = run_ledger(home, "verify")
    assert done.returncode == 0
    assert "against 5 checkpoints" in done.stdout


@pytest.mark.parametrize("seed", SEEDS)
def test_one_changed_byte_is_named_at_its_position(home: Path, seed: int) -> None:
    rng = random.Random(seed)
    position = rng.randint(1, EVENTS)
    with StoredEvents(home) as events:
        state = bytearray(events.row(position)[3])
        at = rng.randrange(len(state))
        state[at] ^= rng.randint(1, 255)
        events.set_state(position, bytes(state))
    code, report = run_verify(home)
    assert code == 1
    finding = only_finding(report)
    assert (finding["kind"], finding["position"]) == ("altered", position)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_deleted_row_is_named_at_its_position(home: Path, seed: int) -> None:
    position = random.Random(seed).randint(1, EVENTS)
    with StoredEvents(home) as events:
        events.delete(position)
    finding = only_finding(run_verify(home)[1])
    assert (finding["kind"], finding["position"]) == ("removed", position)


@pytest.mark.parametrize("seed", SEEDS)
def test_two_swapped_rows_are_named_at_the_first(home: Path, seed: int) -> None:
    first, second = sorted(random.Random(seed).sample(range(1, EVENTS + 1), 2))
    with StoredEvents(home) as events:
        one, other = events.row(first), events.row(second)
        events.delete(first)
        events.delete(second)
        events.insert(first, other)
        events.insert(second, one)
    finding = only_finding(run_verify(home)[1])
    assert (finding["kind"], finding["position"]) == ("reordered", first)
    assert str(second) in finding["detail"]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_forged_row_inserted_is_named_at_its_position(home: Path, seed: int) -> None:
    position = random.Random(seed).randint(1, EVENTS)
    forged = (
        "0" * 31 + "f",
        1,
        "ledger.domainmodel:Vote.Cast",
        b'{"timestamp":"2026-01-01T00:00:00.000000Z","choice":"ship"}',
    )
    with StoredEvents(home) as events:
        for moved in range(EVENTS, position - 1, -1):
            events.move(moved, moved + 1)
        events.insert(position, forged)
    finding = only_finding(run_verify(home)[1])
    assert (finding["kind"], finding["position"]) == ("inserted", position)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_truncated_tail_is_named_where_it_starts(home: Path, seed: int) -> None:
    kept = random.Random(seed).randint(0, EVENTS - 1)
    with StoredEvents(home) as events:
        events.delete_after(kept)
    finding = only_finding(run_verify(home)[1])
    assert (finding["kind"], finding["position"]) == ("removed", kept + 1)


def _store(home: Path) -> CheckpointStore:
    return CheckpointStore(home / "checkpoints.sqlite")


@pytest.mark.sqlite_only(NOT_THE_LOG)
def test_a_checkpoint_re_signed_with_another_key_is_named(home: Path) -> None:
    store = _store(home)
    victim = store.every()[2]
    forger = SignerKey.from_seed(
        ChainSettings.from_env(Settings(home=home), {}).origin, bytes(32)
    )
    text = victim.note.split("\n\n")[0] + "\n"
    store.conn.execute(
        "UPDATE checkpoints SET note = ? WHERE seq = ?", (forger.sign(text), victim.seq)
    )
    store.close()
    finding = only_finding(run_verify(home)[1])
    assert finding["kind"] == "checkpoint"
    assert finding["tree_size"] == victim.tree_size
    assert "no signature" in finding["detail"]


@pytest.mark.sqlite_only(NOT_THE_LOG)
def test_an_old_checkpoint_replayed_as_the_newest_is_named(home: Path) -> None:
    store = _store(home)
    old = store.every()[1]
    store.conn.execute(
        "INSERT INTO checkpoints (tree_size, signed_at, note) VALUES (?, ?, ?)",
        (old.tree_size, old.signed_at, old.note),
    )
    store.close()
    finding = only_finding(run_verify(home)[1])
    assert finding["kind"] == "checkpoint"
    assert finding["tree_size"] == old.tree_size
    assert "replayed" in finding["detail"]


@pytest.mark.sqlite_only(NOT_THE_LOG)
def test_a_checkpoint_moved_to_another_size_is_named(home: Path) -> None:
    store = _store(home)
    moved = store.every()[3]
    store.conn.execute(
        "UPDATE checkpoints SET tree_size = ? WHERE seq = ?",
        (moved.tree_size + 1, moved.seq),
    )
    store.close()
    finding = only_finding(run_verify(home)[1])
    assert finding["kind"] == "checkpoint"
    assert finding["tree_size"] == moved.tree_size + 1


def test_without_the_chain_the_change_is_narrowed_to_two_checkpoints(
    home: Path,
) -> None:
    readmodel_path(Settings(home=home)).unlink()
    with StoredEvents(home) as events:
        state = bytearray(events.row(50)[3])
        state[-2] ^= 1
        events.set_state(50, bytes(state))
    finding = only_finding(run_verify(home)[1])
    assert finding["kind"] == "mismatch"
    # checkpoints at 10, 40, 70, 100 and 115: leaf 49 lies between 40 and 70
    assert finding["tree_size"] == 70
    assert "leaves 40 to 69" in finding["detail"]


@pytest.mark.sqlite_only(NOT_THE_LOG)
def test_an_altered_read_model_chain_is_told_from_an_altered_log(home: Path) -> None:
    path = readmodel_path(Settings(home=home))
    with sqlite3.connect(path) as conn:
        leaves = conn.execute(
            "SELECT leaves FROM chain_blocks WHERE block = 1"
        ).fetchone()[0]
        forged = leaves[:128] + bytes(32) + leaves[160:]  # leaf 20: block 1, place 4
        conn.execute("UPDATE chain_blocks SET leaves = ? WHERE block = 1", (forged,))
    finding = only_finding(run_verify(home)[1])
    assert (finding["kind"], finding["position"]) == ("chain", 21)


def test_rebuild_refuses_a_log_that_fails_its_newest_checkpoint(home: Path) -> None:
    path = readmodel_path(Settings(home=home))
    before = dump(path)
    backdate(home, 30)
    refused = run_ledger(home, "rebuild")
    assert refused.returncode == 1
    assert "refusing to swap in the rebuilt read models" in refused.stderr
    assert "--ignore-chain" in refused.stderr
    assert dump(path) == before
    forced = run_ledger(home, "rebuild", "--ignore-chain")
    assert forced.returncode == 0, forced.stderr
    assert dump(path) != before
    # the rebuilt chain is the altered log's, so only the signed roots tell
    finding = only_finding(run_verify(home)[1])
    assert finding["kind"] == "mismatch"


def test_rebuild_of_an_honest_log_passes_the_check(home: Path) -> None:
    path = readmodel_path(Settings(home=home))
    before = dump(path)
    done = run_ledger(home, "rebuild")
    assert done.returncode == 0, done.stderr
    assert dump(path) == before


def test_checkpoint_prints_the_note_and_key_show_the_key_that_checks_it(
    home: Path,
) -> None:
    key = run_ledger(home, "key", "show")
    assert key.returncode == 0
    same = run_ledger(home, "checkpoint")
    assert same.returncode == 0
    assert "has not grown" in same.stderr
    checkpoint = Checkpoint.parse(VerifierKey.parse(key.stdout).verify(same.stdout))
    assert checkpoint.size == EVENTS
    code, _ = run_verify(home)
    assert code == 0
    done = run_ledger(home, "verify", "--key", key.stdout.strip())
    assert done.returncode == 0
    other = SignerKey.from_seed(checkpoint.origin, bytes(32)).verifier.text()
    done = run_ledger(home, "verify", "--key", other)
    assert done.returncode == 1
    assert done.stdout.count("checkpoint") >= 5
    done = run_ledger(home, "verify", "--key", "nonsense")
    assert done.returncode == 1
    assert "--key" in done.stderr


@pytest.mark.sqlite_only(
    "APSW reads the SQLite log file; PostgreSQL's log has only the recorder's path"
)
@pytest.mark.parametrize("tamper", ["none", "altered", "deleted"])
def test_reading_the_log_through_apsw_or_the_recorder_finds_the_same(
    home: Path, tamper: str
) -> None:
    """``verify_ledger`` reads an SQLite log through APSW, the rebuild's fast
    path; the plain path through eventsourcing's recorder must agree."""
    with StoredEvents(home) as events:
        if tamper == "altered":
            state = bytearray(events.row(33)[3])
            state[5] ^= 4
            events.set_state(33, bytes(state))
        elif tamper == "deleted":
            events.delete(90)
    settings = Settings(home=home)
    chain = ChainSettings(home=home)
    key = chain.signer().verifier
    ledger = Ledger(settings)
    store = CheckpointStore(chain.store_path)
    recorded = sqlite3.connect(readmodel_path(settings))
    try:
        fast = verify_ledger(ledger, readmodel_path(settings), chain, key)
        plain = verify(_ThroughRecorder(ledger), store, key, chain.origin, recorded)
    finally:
        recorded.close()
        store.close()
        ledger.close()
    assert fast == plain
    assert fast.ok is (tamper == "none")


class _ThroughRecorder:
    """The log as eventsourcing's recorder reads it, never through APSW."""

    def __init__(self, ledger: Ledger) -> None:
        self.recorder = ledger.recorder

    def read(self, after: int, limit: int, stop: int | None = None) -> list[Raw]:
        return [
            (n.id, n.originator_id.hex, n.originator_version, n.topic, n.state)
            for n in self.recorder.select_notifications(
                start=after + 1, limit=limit, stop=stop
            )
        ]


def test_a_log_never_checkpointed_verifies_but_says_nothing_vouches_for_it(
    event_store: Store,
) -> None:
    home = event_store.settings.home
    ledger = event_store.ledger()
    grow(ledger, 3)
    ledger.close()
    keyless = run_ledger(home, "verify")
    assert keyless.returncode == 1
    assert "no log key" in keyless.stderr
    assert run_ledger(home, "key", "show").returncode == 0
    done = run_ledger(home, "verify")
    assert done.returncode == 0, done.stderr
    assert "against 0 checkpoints" in done.stdout
    assert "no checkpoint has been signed yet" in done.stderr
