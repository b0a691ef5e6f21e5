"""The keyrings personal data is sealed with, and what destroying a key leaves.

Each test runs on both keyrings, as a ledger on each event store opens
them: ``keys.sqlite`` in the home beside the embedded store, the table
``ledger_person_keys`` beside a PostgreSQL log. A destroyed key must be
gone from the stored bytes themselves, not just from what a query returns:
``keys.sqlite`` is read as a file, PostgreSQL's table through the server's
own file of it.
"""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from ledger.personal_data import (
    ERASED,
    PREFIX,
    PRIVATE,
    UNREADABLE,
    KeyringState,
    Sealer,
    open_keyring,
)
from ledger.postgres_keyring import TABLE
from ledger.postgres_tables import Place
from tests.helpers import URL
from tests.stores import Store

ADA = "reviewer:ada"
BOB = "reviewer:bob"
SUBSCRIBER = "subscriber:0b7e2d6c-9d0a-4a52-8a3b-8e0f6f3c8e11"


@pytest.fixture
def keyring(event_store: Store) -> Iterator[KeyringState]:
    opened = open_keyring(event_store.settings, event_store.env)
    try:
        yield opened
    finally:
        opened.close()


def _stored_bytes(event_store: Store) -> bytes:
    """Every byte the keyring's storage holds on disk, read past the keyring."""
    if event_store.name == "sqlite":
        home = event_store.settings.home
        return b"".join(path.read_bytes() for path in home.glob("keys.sqlite*"))
    table = Place.of(event_store.settings, event_store.env).table(TABLE)
    with psycopg.connect(URL, autocommit=True) as db:
        db.execute("CHECKPOINT")  # the table's pages, written to its file
        path = db.execute(
            sql.SQL("SELECT pg_relation_filepath({})").format(
                sql.Literal(table.as_string(db))
            )
        ).fetchone()
        assert path is not None
        data = db.execute("SELECT pg_read_binary_file(%s)", (path[0],)).fetchone()
        assert data is not None
        return bytes(data[0])


def test_sealed_text_opens_under_its_person_only(keyring: KeyringState) -> None:
    sealer = Sealer(keyring)
    sealed = sealer.seal(ADA, "Ada Lovelace")
    assert sealed.startswith(f"{PREFIX}{ADA}:")
    assert "Ada Lovelace" not in sealed
    assert sealer.unseal(sealed) == "Ada Lovelace"
    assert sealer.seal(ADA, sealed) == sealed, "sealed text is never sealed twice"
    assert sealer.seal(ADA, "Ada Lovelace") != sealed, "a fresh nonce each time"
    assert sealer.unseal("plain text") == "plain text"


def test_sealed_text_moved_to_another_person_does_not_open(
    keyring: KeyringState,
) -> None:
    sealer = Sealer(keyring)
    sealer.seal(BOB, "Bob")  # Bob has a key of his own
    token = sealer.seal(ADA, "Ada Lovelace").rpartition(":")[2]
    assert sealer.unseal(f"{PREFIX}{BOB}:{token}") in (ERASED, UNREADABLE)
    assert sealer.unseal(f"{PREFIX}{ADA}:{token[:-2]}AA") == UNREADABLE
    assert sealer.unseal(f"{PREFIX}{ADA}:{token}") == "Ada Lovelace"


def test_a_subscribers_data_opens_only_in_private(keyring: KeyringState) -> None:
    sealer = Sealer(keyring)
    sealed = sealer.seal(SUBSCRIBER, "reader@example.org")
    assert sealer.unseal(sealed) == PRIVATE
    assert sealer.unseal(sealed, private=True) == "reader@example.org"
    rows = sealer.unseal_rows([{"a": sealed, "n": 1}], private=True)
    assert rows == [{"a": "reader@example.org", "n": 1}]


def test_destroying_a_key_answers_what_it_found(keyring: KeyringState) -> None:
    sealer = Sealer(keyring)
    sealed = sealer.seal(ADA, "Ada Lovelace")
    assert keyring.destroy("reviewer:nobody") == "unknown"
    assert not keyring.erased(ADA)
    assert keyring.destroy(ADA) == "destroyed"
    assert keyring.erased(ADA)
    assert not keyring.erased("reviewer:nobody"), "never keyed is not erased"
    assert keyring.destroy(ADA) == "unrecorded"
    keyring.mark_recorded(ADA)
    assert keyring.destroy(ADA) == "recorded"
    assert sealer.unseal(sealed) == ERASED
    assert keyring.key(ADA, create=False) is None
    assert keyring.keys([ADA]) == {}


def test_data_given_after_an_erasure_gets_a_new_key(keyring: KeyringState) -> None:
    sealer = Sealer(keyring)
    old = sealer.seal(ADA, "Ada Lovelace")
    first = keyring.key(ADA, create=False)
    keyring.destroy(ADA)
    keyring.mark_recorded(ADA)
    new = sealer.seal(ADA, "A. Lovelace")
    assert not keyring.erased(ADA)
    assert keyring.key(ADA, create=False) not in (None, first)
    assert sealer.unseal_all([old, new]) == [ERASED, "A. Lovelace"]
    assert keyring.destroy(ADA) == "destroyed", "the new key can be erased too"


def test_a_destroyed_key_is_in_no_stored_byte(
    keyring: KeyringState, event_store: Store
) -> None:
    sealer = Sealer(keyring)
    for n in range(50):  # keys enough to fill more than one page
        sealer.seal(f"reviewer:r{n}", "someone")
    sealer.seal(ADA, "Ada Lovelace")
    doomed = keyring.key(ADA, create=False)
    kept = keyring.key(BOB, create=True)
    assert doomed is not None
    assert kept is not None
    before = _stored_bytes(event_store)
    assert doomed in before, "the check must be able to find a key"
    assert keyring.destroy(ADA) == "destroyed"
    keyring.mark_recorded(ADA)
    after = _stored_bytes(event_store)
    assert doomed not in after
    assert base64.b64encode(doomed) not in after
    assert kept in after


@pytest.mark.sqlite_only("keys.sqlite is the embedded store's keyring file")
def test_only_the_ledgers_user_may_read_keys_sqlite(
    keyring: KeyringState, event_store: Store
) -> None:
    Sealer(keyring).seal(ADA, "Ada Lovelace")
    mode = stat.S_IMODE(event_store.settings.keys_path.stat().st_mode)
    assert mode == 0o600
