"""Signed checkpoints: the C2SP formats, the key, the store, and when one is signed."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from Crypto.Signature import eddsa

from ledger.application import Ledger
from ledger.settings import Settings
from projections.chain_queries import StoredTree
from projections.checkpoints import (
    ChainSettings,
    Checkpoint,
    Checkpointer,
    CheckpointStore,
)
from projections.files import connect
from projections.projector import Projector
from projections.signed_notes import (
    NoteError,
    SignerKey,
    VerifierKey,
    load_or_create,
    split_note,
)
from tests.projections.chain_helpers import grow

SEED = bytes(range(32))
ORIGIN = "example.com/verdicts"
ROOT = hashlib.sha256(b"a root").digest()


def test_a_checkpoint_signed_with_a_fixed_key_is_a_fixed_text() -> None:
    signer = SignerKey.from_seed(ORIGIN, SEED)
    note = signer.sign(Checkpoint(ORIGIN, 42, ROOT).text())
    # Ed25519 is deterministic: the same key signs the same text the same way.
    assert note == (
        "example.com/verdicts\n"
        "42\n"
        "ULMS9cvHFnWfViDXOnzBFBVwc0n0Gwzgt897eAfsMdo=\n"
        "\n"
        "\N{EM DASH} example.com/verdicts BVwOnzCupYsLgGxJBGSUMBWiRsyzQVur+ojQvO+CW"
        "mWeIdUzSS4VWReux839xzm3HPIY0nWwI/xiPO/r+w6kOYjMAg8=\n"
    )
    assert signer.verifier.text() == (
        "example.com/verdicts+055c0e9f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    )


def test_another_ed25519_implementation_accepts_the_signature() -> None:
    signer = SignerKey.from_seed(ORIGIN, SEED)
    text = Checkpoint(ORIGIN, 42, ROOT).text()
    _, [(_, signature)] = split_note(signer.sign(text))
    public = eddsa.import_public_key(encoded=signer.verifier.public)
    eddsa.new(public, "rfc8032").verify(text.encode(), signature[4:])
    with pytest.raises(ValueError, match="not authentic"):
        eddsa.new(public, "rfc8032").verify(text.encode() + b"x", signature[4:])


def test_the_key_id_is_the_spec_hash_of_name_type_and_key() -> None:
    signer = SignerKey.from_seed(ORIGIN, SEED)
    public = signer.verifier.public
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    assert signer.verifier.id == expected
    note = signer.sign("hello\n")
    _, [(name, signature)] = split_note(note)
    assert name == ORIGIN
    assert signature[:4] == expected
    assert len(signature) == 4 + 64


def test_the_verifier_key_round_trips_and_verifies_only_its_notes() -> None:
    signer = SignerKey.from_seed(ORIGIN, SEED)
    key = VerifierKey.parse(signer.verifier.text())
    assert key == signer.verifier
    note = signer.sign(Checkpoint(ORIGIN, 7, ROOT).text())
    assert Checkpoint.parse(key.verify(note)) == Checkpoint(ORIGIN, 7, ROOT)
    flipped = note.replace("\n7\n", "\n8\n")
    with pytest.raises(NoteError, match="does not verify"):
        key.verify(flipped)
    other = SignerKey.from_seed(ORIGIN, bytes(32))
    with pytest.raises(NoteError, match="no signature"):
        key.verify(other.sign(Checkpoint(ORIGIN, 7, ROOT).text()))
    renamed = SignerKey.from_seed("example.com/other", SEED)
    with pytest.raises(NoteError, match="no signature"):
        key.verify(renamed.sign(Checkpoint(ORIGIN, 7, ROOT).text()))


def test_a_note_cosigned_by_an_unknown_key_still_verifies() -> None:
    signer = SignerKey.from_seed(ORIGIN, SEED)
    witness = SignerKey.from_seed("witness.example/w1", bytes(32))
    text = Checkpoint(ORIGIN, 3, ROOT).text()
    cosigned = signer.sign(text) + witness.sign(text).split("\n\n")[1]
    assert signer.verifier.verify(cosigned) == text


@pytest.mark.parametrize(
    ("note", "says"),
    [
        ("no signature\n", "blank line"),
        ("text\n\nnot a signature\n", "not a signature line"),
        ("text\n\n\N{EM DASH} name ***\n", "not base64"),
        ("text\n\n\N{EM DASH} na+me AAAAAAAA\n", "spaces or"),
        ("te\x07xt\n\n\N{EM DASH} name AAAAAAAA\n", "control"),
        ("x" * 20_000, "at most"),
    ],
)
def test_malformed_notes_are_refused(note: str, says: str) -> None:
    with pytest.raises(NoteError, match=says):
        split_note(note)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("origin\n12\n", "origin, a tree size"),
        ("origin\n012\nAAAA\n", "decimal"),
        ("origin\n-1\nAAAA\n", "decimal"),
        ("origin\n12\n!!!!\n", "base64"),
        ("origin\n12\nAAAA\n", "SHA-256"),
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: str, says: str) -> None:
    with pytest.raises(NoteError, match=says):
        Checkpoint.parse(body)


def test_extension_lines_are_allowed() -> None:
    body = Checkpoint(ORIGIN, 5, ROOT).text() + "extension line\n"
    assert Checkpoint.parse(body) == Checkpoint(ORIGIN, 5, ROOT)


def test_the_key_file_is_private_and_made_once(tmp_path: Path) -> None:
    path = tmp_path / "home" / "log.key"
    made: list[SignerKey] = []
    threads = [
        threading.Thread(target=lambda: made.append(load_or_create(path, ORIGIN)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len({key.verifier.public for key in made}) == 1
    assert not [p for p in path.parent.iterdir() if p.name != "log.key"]
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="32-byte"):
        load_or_create(path, ORIGIN)


def test_the_store_publishes_only_growing_trees(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints.sqlite")
    signer = SignerKey.from_seed(ORIGIN, SEED)
    first = store.publish(Checkpoint(ORIGIN, 10, ROOT), signer)
    assert first is not None
    assert store.publish(Checkpoint(ORIGIN, 10, ROOT), signer) is None
    assert store.publish(Checkpoint(ORIGIN, 9, ROOT), signer) is None
    second = store.publish(Checkpoint(ORIGIN, 25, ROOT), signer)
    assert second is not None
    assert store.latest() == second
    assert store.at_size(10) == first
    assert store.at_size(11) is None
    assert store.after(0, 10) == [first, second]
    assert store.after(10, 10) == [second]
    assert store.after(0, 1) == [first]
    store.close()


def test_chain_settings_read_the_environment(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    chain = ChainSettings.from_env(
        settings,
        {
            "LEDGER_LOG_ORIGIN": "reviews.example/log",
            "LEDGER_CHECKPOINT_EVERY": "50",
            "LEDGER_CHECKPOINT_SECONDS": "2.5",
        },
    )
    assert (chain.origin, chain.every, chain.seconds) == (
        "reviews.example/log",
        50,
        2.5,
    )
    assert chain.key_path == tmp_path / "log.key"
    with pytest.raises(ValueError, match="LEDGER_LOG_ORIGIN"):
        ChainSettings.from_env(settings, {"LEDGER_LOG_ORIGIN": "two words"})
    with pytest.raises(ValueError, match="LEDGER_CHECKPOINT_EVERY"):
        ChainSettings.from_env(settings, {"LEDGER_CHECKPOINT_EVERY": "0"})


def _checkpointer(home: Path, every: int, seconds: float) -> Checkpointer:
    chain = ChainSettings.from_env(
        Settings(home=home),
        {
            "LEDGER_CHECKPOINT_EVERY": str(every),
            "LEDGER_CHECKPOINT_SECONDS": str(seconds),
        },
    )
    return Checkpointer(chain)


def test_the_projector_signs_every_n_events(
    ledger: Ledger, home: Path, live_path: Path
) -> None:
    grow(ledger, 45)  # 60 events
    projector = Projector(
        ledger, live_path, batch_size=10, checkpointer=_checkpointer(home, 25, 3600)
    )
    projector.catch_up()
    projector.close()
    store = CheckpointStore(home / "checkpoints.sqlite")
    published = store.every()
    # the first batch is signed at once, then the first batch to end 25 or
    # more past the last; the 20 after that wait for the time limit
    assert [p.tree_size for p in published] == [10, 40]
    conn = connect(live_path)
    tree = StoredTree(conn)
    key = ChainSettings.from_env(Settings(home=home), {}).signer().verifier
    for checkpoint in published:
        body = Checkpoint.parse(key.verify(checkpoint.note))
        assert body.size == checkpoint.tree_size
        assert body.root == tree.root(body.size)
    conn.close()
    store.close()


def test_a_following_projector_signs_after_m_seconds_when_the_log_grew(
    ledger: Ledger, home: Path, live_path: Path
) -> None:
    grow(ledger, 5)
    projector = Projector(
        ledger,
        live_path,
        poll_interval=0.05,
        checkpointer=_checkpointer(home, 1000, 0.3),
    )
    projector.start()
    store = CheckpointStore(home / "checkpoints.sqlite")
    try:
        assert _wait_for(lambda: [p.tree_size for p in store.every()] == [20])
        grow(ledger, 3, start=5)
        assert _wait_for(lambda: [p.tree_size for p in store.every()] == [20, 23])
        time.sleep(0.6)  # nothing new: nothing more is signed
        assert [p.tree_size for p in store.every()] == [20, 23]
    finally:
        projector.close()
        store.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
