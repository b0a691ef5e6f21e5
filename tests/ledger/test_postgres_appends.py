"""Appends that release the table lock before their flush store what the plain
recorder stores, refuse what it refuses, and hand readers durable events only."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic

from ledger.conditional_appends import DependencyChanged
from ledger.postgres_appends import EarlyUnlockPostgresFactory
from ledger.postgres_recorder import LedgerPostgresFactory
from tests.helpers import URL, Postgres, private_schema

pytestmark = pytest.mark.postgres

DECISIVE = "ledger.domainmodel:Tool.Retired"
MINOR = "ledger.domainmodel:Tool.Edited"


def _recorder(postgres: Postgres, factory: type[LedgerPostgresFactory]) -> Any:
    env = {
        **postgres.settings.eventsourcing_env(),
        **postgres.env,
        "PERSISTENCE_MODULE": get_topic(factory),
    }
    made = factory(env)
    recorder = made.application_recorder()
    recorder.decisive_topics = frozenset({DECISIVE})
    return made, recorder


@pytest.fixture
def recorders(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The plain and the early-unlock recorder, each on a schema of its own."""
    opened: dict[str, Any] = {}
    factories = []
    schemas = [private_schema(tmp_path / name) for name in ("plain", "early")]
    try:
        for name, schema, factory in zip(
            ("plain", "early"),
            schemas,
            (LedgerPostgresFactory, EarlyUnlockPostgresFactory),
            strict=True,
        ):
            made, opened[name] = _recorder(next(schema), factory)
            factories.append(made)
        yield opened
    finally:
        for made in factories:
            made.close()
        for schema in schemas:
            schema.close()


def _event(originator: uuid.UUID, version: int, topic: str = MINOR) -> StoredEvent:
    return StoredEvent(originator, version, topic, f"{originator}:{version}".encode())


def _script(recorder: Any) -> list[object]:
    """The same appends, conflicts included; what each gave or raised."""
    tool, vote, other = (uuid.UUID(int=n) for n in (1, 2, 3))
    steps: list[tuple[list[StoredEvent], list[tuple[uuid.UUID, int]]]] = [
        ([_event(tool, 1)], []),
        ([_event(vote, 1)], [(tool, 1)]),
        ([_event(tool, 2, MINOR)], []),
        ([_event(vote, 2)], [(tool, 1)]),  # an edit decides nothing: appended
        ([_event(tool, 3, DECISIVE)], []),
        ([_event(vote, 3)], [(tool, 2)]),  # the tool was retired since: refused
        ([_event(vote, 3)], [(tool, 3)]),
        ([_event(vote, 3)], []),  # version 3 is taken: a unique violation
        ([_event(other, 1), _event(other, 2)], [(tool, 3), (vote, 3)]),
        ([], [(tool, 3)]),  # nothing to append, the condition holds
    ]
    outcomes: list[object] = []
    for events, unchanged in steps:
        try:
            outcomes.append(recorder.insert_events(events, unchanged=unchanged))
        except DependencyChanged as error:
            outcomes.append(str(error))
        except IntegrityError as error:
            outcomes.append(type(error).__name__)
    return outcomes


def _stored(recorder: Any) -> list[tuple[Any, ...]]:
    return [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in recorder.select_notifications(start=None, limit=100)
    ]


def test_both_recorders_append_and_refuse_alike(recorders: dict[str, Any]) -> None:
    plain = _script(recorders["plain"])
    early = _script(recorders["early"])
    assert early == plain
    assert plain == [
        [1],
        [2],
        [3],
        [4],
        [5],
        # Its insert took position 6, rolled back.
        f"{uuid.UUID(int=1)} changed decisively at version 3 after version 2; "
        "nothing appended",
        [7],
        "IntegrityError",  # 8, likewise
        [9, 10],
        None,
    ]
    assert _stored(recorders["early"]) == _stored(recorders["plain"])


def test_opening_a_log_made_before_the_append_function_makes_it(
    tmp_path: Path,
) -> None:
    schema = private_schema(tmp_path)
    postgres = next(schema)
    try:
        made, recorder = _recorder(postgres, EarlyUnlockPostgresFactory)
        recorder.insert_events([_event(uuid.UUID(int=1), 1)])
        made.close()
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute(
                f'DROP FUNCTION "{recorder.datastore.schema}".'
                f"ledger_append_{recorder.events_table_name}"
            )
        made, reopened = _recorder(postgres, EarlyUnlockPostgresFactory)
        try:
            assert reopened.insert_events([_event(uuid.UUID(int=1), 2)]) == [2]
        finally:
            made.close()
    finally:
        schema.close()


def test_appends_from_many_threads_keep_every_event_once(
    recorders: dict[str, Any],
) -> None:
    recorder = recorders["early"]
    tool = uuid.UUID(int=1)
    recorder.insert_events([_event(tool, 1)])
    failures: list[BaseException] = []

    def append(thread: int) -> None:
        try:
            for n in range(20):
                voter = uuid.UUID(int=1000 * (thread + 1) + n)
                recorder.insert_events([_event(voter, 1)], unchanged=[(tool, 1)])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=append, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    ids = [row[0] for row in _stored(recorders["early"])]
    assert ids == list(range(1, 82))


def test_an_append_lets_a_waiting_one_in_before_its_flush(
    recorders: dict[str, Any],
) -> None:
    recorder = recorders["early"]
    tool = uuid.UUID(int=1)
    recorder.insert_events([_event(tool, 1)])
    recorder.insert_events([_event(tool, 2)], unchanged=[(tool, 1)])
    assert recorder.released_early == 0, "alone, an append commits synchronously"
    schema = recorder.datastore.schema
    appended: list[Any] = []
    with psycopg.connect(URL) as holder:
        holder.execute(
            f'LOCK TABLE "{schema}".{recorder.events_table_name} IN EXCLUSIVE MODE'
        )
        threads = [
            threading.Thread(
                target=lambda n=n: appended.append(
                    recorder.insert_events([_event(uuid.UUID(int=10 + n), 1)])
                )
            )
            for n in range(3)
        ]
        for thread in threads:
            thread.start()
        with psycopg.connect(URL, autocommit=True) as watcher:
            while watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                "AND relation = %s::regclass",
                (f'"{schema}".{recorder.events_table_name}',),
            ).fetchone() != (3,):
                threading.Event().wait(0.01)
        holder.rollback()
    for thread in threads:
        thread.join()
    assert sorted(appended) == [[3], [4], [5]]
    # The first two to get the lock each had another waiting behind them.
    assert recorder.released_early >= 2


def _lsn(conn: psycopg.Connection[Any], function: str) -> int:
    text = conn.execute(f"SELECT {function}()").fetchone()[0]  # type: ignore[index]
    high, low = str(text).split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_a_reader_gets_events_only_once_they_are_on_disk(
    recorders: dict[str, Any],
) -> None:
    recorder = recorders["early"]
    schema = recorder.datastore.schema
    with psycopg.connect(URL, autocommit=True) as writer:
        # A commit that is visible before it is flushed, as an early-unlock
        # append's is for a moment.
        with writer.transaction():
            writer.execute("SET LOCAL synchronous_commit = off")
            writer.execute(
                f'INSERT INTO "{schema}".{recorder.events_table_name} '
                "(originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, %s, %s)",
                (uuid.uuid4(), MINOR, b"{}"),
            )
        written = _lsn(writer, "pg_current_wal_insert_lsn")
        (read,) = recorder.select_notifications(start=None, limit=10)
        assert _lsn(writer, "pg_current_wal_flush_lsn") >= written
    assert read.id == 1
