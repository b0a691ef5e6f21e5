"""The session store of the editorial pages: ends, idleness, digests, sharing.

Every case runs on both stores, as :func:`ledger.sessions.open_session_store`
opens them: the ``sessions`` table of a real ``auth.sqlite``, and the table
beside a PostgreSQL log in a private schema. Times are passed in, so the
idle and absolute ends are checked at exact instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger.sessions import (
    IDLE,
    LIFETIME,
    SEEN_GRANULARITY,
    SessionStoreBase,
    digest,
    open_session_store,
)
from tests.stores import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.fixture
def store(event_store: Store) -> Iterator[SessionStoreBase]:
    opened = open_session_store(event_store.settings, event_store.env)
    yield opened
    opened.close()


def stored(store: SessionStoreBase) -> list[tuple[object, ...]]:
    return store._rows("SELECT digest, token_id, seen_at FROM {sessions}", [])


def test_a_session_is_found_by_its_id_and_stored_by_its_digest(
    store: SessionStoreBase,
) -> None:
    session_id, session = store.open("tok1", now=T0)
    found = store.find(session_id, now=T0)
    assert found == session
    assert found.token_id == "tok1"
    assert len(found.csrf_secret) == 64
    rows = stored(store)
    assert [row[0] for row in rows] == [digest(session_id)]
    assert session_id not in repr(rows)
    assert store.find(session_id[:-1] + "x", now=T0) is None


def test_each_sign_in_is_a_session_of_its_own(store: SessionStoreBase) -> None:
    first, one = store.open("tok1", now=T0)
    second, two = store.open("tok1", now=T0)
    assert first != second
    assert one.csrf_secret != two.csrf_secret


def test_a_session_ends_after_its_lifetime_however_busy(
    store: SessionStoreBase,
) -> None:
    session_id, _ = store.open("tok1", now=T0)
    moment = T0
    while moment + IDLE / 2 < T0 + LIFETIME:
        moment += IDLE / 2
        assert store.find(session_id, now=moment) is not None
    assert store.find(session_id, now=T0 + LIFETIME - TICK) is not None
    assert store.find(session_id, now=T0 + LIFETIME) is None


def test_an_idle_session_ends(store: SessionStoreBase) -> None:
    session_id, _ = store.open("tok1", now=T0)
    assert store.find(session_id, now=T0 + IDLE - TICK) is not None
    # That use moved the idle clock on.
    assert store.find(session_id, now=T0 + IDLE + IDLE / 2) is not None
    later = T0 + 3 * IDLE
    assert store.find(session_id, now=later) is None


def test_a_use_is_stored_at_most_once_a_minute(store: SessionStoreBase) -> None:
    session_id, _ = store.open("tok1", now=T0)
    store.find(session_id, now=T0 + SEEN_GRANULARITY - TICK)
    assert stored(store)[0][2] == T0.isoformat(timespec="microseconds")
    store.find(session_id, now=T0 + SEEN_GRANULARITY)
    after = (T0 + SEEN_GRANULARITY).isoformat(timespec="microseconds")
    assert stored(store)[0][2] == after


def test_ending_a_session_deletes_it(store: SessionStoreBase) -> None:
    session_id, _ = store.open("tok1", now=T0)
    kept_id, _ = store.open("tok2", now=T0)
    assert store.end(session_id) is True
    assert store.find(session_id, now=T0) is None
    assert store.end(session_id) is False
    assert store.find(kept_id, now=T0) is not None


def test_ended_sessions_are_swept_out_by_the_next_sign_in(
    store: SessionStoreBase,
) -> None:
    old, _ = store.open("tok1", now=T0)
    store.open("tok2", now=T0 + LIFETIME)
    assert digest(old) not in {row[0] for row in stored(store)}
    assert len(stored(store)) == 1


def test_every_opened_store_sees_the_same_sessions(event_store: Store) -> None:
    one = open_session_store(event_store.settings, event_store.env)
    other = open_session_store(event_store.settings, event_store.env)
    try:
        session_id, _ = one.open("tok1")
        assert other.find(session_id) is not None
        other.end(session_id)
        assert one.find(session_id) is None
    finally:
        one.close()
        other.close()
