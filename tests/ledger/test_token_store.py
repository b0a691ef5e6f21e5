"""The token store: expiry, revocation, last use to the minute, listing, migration.

Every case runs on both token stores, as :func:`ledger.auth.open_token_store`
opens them: a real SQLite token file, and the table beside a PostgreSQL log
in a private schema. Times are passed in, so expiry and the last-use
granularity are checked at exact instants, not by waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from ledger import durations
from ledger.auth import (
    LAST_USE_GRANULARITY,
    TokenAlreadyRevoked,
    TokenNotFound,
    TokenStoreBase,
    open_token_store,
)
from ledger.sqlite_tokens import SCHEMA_VERSION, TokenStore
from tests.stores import Store

SECRET = b"s" * 32
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(event_store: Store) -> Iterator[TokenStoreBase]:
    opened = open_token_store(event_store.settings, event_store.env)
    yield opened
    opened.close()


def test_a_token_stops_working_when_it_expires(store: TokenStoreBase) -> None:
    token, info = store.issue("editor", expires_in=timedelta(hours=12), now=T0)
    assert info.expires_at == T0 + timedelta(hours=12)
    just_before = T0 + timedelta(hours=12) - timedelta(microseconds=1)
    assert store.verify(token, now=just_before) is not None
    assert store.verify(token, now=T0 + timedelta(hours=12)) is None
    stored = store.get(info.id)
    assert stored is not None
    assert stored.state(just_before) == "live"
    assert stored.state(T0 + timedelta(hours=12)) == "expired"


def test_a_token_without_expiry_works_for_good(store: TokenStoreBase) -> None:
    token = store.create("voter")
    assert store.verify(token, now=datetime(2999, 1, 1, tzinfo=UTC)) is not None


def test_a_lifetime_must_be_positive(store: TokenStoreBase) -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        store.issue("editor", expires_in=timedelta(0))


def test_revoked_beats_expired_and_holds(store: TokenStoreBase) -> None:
    token, info = store.issue("admin", expires_in=timedelta(minutes=5), now=T0)
    revoked = store.revoke_known(info.id)
    assert revoked.state(T0) == "revoked"
    assert revoked.state(T0 + timedelta(days=1)) == "revoked"
    assert store.verify(token, now=T0) is None
    with pytest.raises(TokenAlreadyRevoked, match="already revoked"):
        store.revoke_known(info.id)
    with pytest.raises(TokenNotFound, match="no token has the id 'nope'"):
        store.revoke_known("nope")


def test_the_last_use_is_stored_at_most_once_a_minute(store: TokenStoreBase) -> None:
    token, info = store.issue("voter", now=T0)
    first = store.verify(token, now=T0)
    assert first is not None
    assert first.last_used_at is None
    assert first.touch_due(T0)
    assert store.touch(info.id, now=T0 + timedelta(seconds=5))
    # Within the minute, another use is neither due nor written.
    soon = T0 + timedelta(seconds=40)
    again = store.verify(token, now=soon)
    assert again is not None
    assert again.last_used_at == T0 + timedelta(seconds=5)
    assert not again.touch_due(soon)
    assert not store.touch(info.id, now=soon)
    # A minute after the stored use, it is.
    later = T0 + timedelta(seconds=5) + LAST_USE_GRANULARITY
    assert store.verify(token, now=later).touch_due(later)  # type: ignore[union-attr]
    assert store.touch(info.id, now=later)
    stored = store.get(info.id)
    assert stored is not None
    assert stored.last_used_at == later


def test_tokens_list_in_the_order_issued_by_page_and_role(
    store: TokenStoreBase,
) -> None:
    issued = [store.issue(role)[1] for role in ("admin", "voter", "editor", "voter")]
    first = store.page(0, 2)
    assert [info.id for info in first] == [issued[0].id, issued[1].id]
    rest = store.page(first[-1].seq, 10)
    assert [info.id for info in rest] == [issued[2].id, issued[3].id]
    voters = store.page(0, 10, role="voter")
    assert [info.id for info in voters] == [issued[1].id, issued[3].id]


def test_what_is_listed_holds_neither_secret_nor_digest(
    store: TokenStoreBase, event_store: Store
) -> None:
    token, info = store.issue("editor")
    secret = token.split("_", 2)[2]
    key = event_store.settings.server_secret()
    digest = hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
    shown = str(info.public()) + str(store.page())
    assert secret not in shown
    assert digest not in shown


def _first_schema_file(path: Path, token_id: str, token_secret: str) -> None:
    """A token file as the first version of the store wrote it."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.table("tokens").create(  # type: ignore[union-attr]
        {
            "id": str,
            "digest": str,
            "role": str,
            "reviewer": str,
            "created_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"digest", "role", "created_at"},
    )
    digest = hmac.new(SECRET, token_secret.encode(), hashlib.sha256).hexdigest()
    with db.conn:
        db.execute(
            "INSERT INTO tokens VALUES (?, ?, 'reviewer', 'skeptic', ?, NULL)",
            [token_id, digest, T0.isoformat()],
        )
    db.close()


def test_an_older_token_file_is_migrated_and_its_tokens_still_work(
    tmp_path: Path,
) -> None:
    path = tmp_path / "auth.sqlite"
    _first_schema_file(path, "0123456789ab", "old-secret")
    store = TokenStore(path, SECRET)
    try:
        principal = store.verify("vl_0123456789ab_old-secret")
        assert principal is not None
        assert (principal.role, principal.reviewer) == ("reviewer", "skeptic")
        (info,) = store.page()
        assert (info.id, info.created_at, info.expires_at) == ("0123456789ab", T0, None)
        assert info.state() == "live"
        assert store.touch(info.id)
        token, _ = store.issue("editor", expires_in=durations.parse("30d"))
        assert store.verify(token) is not None
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in db.execute("PRAGMA table_info(tokens)")}
    assert {"expires_at", "last_used_at"} <= columns
    # Opening it again finds it current and changes nothing.
    TokenStore(path, SECRET).close()


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        (" 7D ", timedelta(days=7)),
        ("3650d", timedelta(days=3650)),
    ],
)
def test_durations_read_as_operators_write_them(text: str, lifetime: timedelta) -> None:
    assert durations.parse(text) == lifetime


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("30", "whole number of minutes, hours or days"),
        ("1.5h", "whole number"),
        ("-3d", "whole number"),
        ("3w", "whole number"),
        ("d", "whole number"),
        ("", "whole number"),
        ("0m", "longer than zero"),
        ("3651d", "at most 3650d"),
        ("99999999d", "whole number"),
    ],
)
def test_nonsense_durations_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        durations.parse(text)
