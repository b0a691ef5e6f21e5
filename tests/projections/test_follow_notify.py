"""Nodes following one PostgreSQL log by LISTEN/NOTIFY, with a fallback poll.

Each node is a ledger on the shared schema with its own read-model file and
projector; another ledger instance on the same schema stands for another
node's writes, which only a notification (or the fallback poll) can tell
this node about.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from ledger.application import Ledger
from ledger.domainmodel import Tool
from ledger.settings import Settings
from projections import Projector, ReadModel, readmodel_path
from projections.following import APPLICATION_NAME, Following, FollowSettings
from projections.node_registry import registry_of
from tests.helpers import URL, Postgres
from tests.projections.helpers import CTX, FIELDS, LEDGER, run_ledger

pytestmark = pytest.mark.postgres

LONG = 30.0
"""A fallback poll far longer than any wait below: only a notification wakes."""


def until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def node(
    ledger: Ledger, path: Path, fallback: float, name: str | None = None
) -> Iterator[tuple[Projector, Following]]:
    """A started projector on ``ledger`` following by notification."""
    projector = Projector(ledger, path, poll_interval=fallback)
    projector.catch_up()
    projector.start()
    settings = FollowSettings(fallback, name or f"node-{uuid.uuid4().hex[:12]}")
    following = Following.start(projector, settings)
    assert following is not None
    try:
        assert until(lambda: following.listener.listening)
        yield projector, following
    finally:
        following.close()
        projector.close()


def register(ledger: Ledger, slug: str) -> int:
    return ledger.register_tool(CTX, slug, FIELDS).position


def tools(path: Path) -> set[str]:
    model = ReadModel(path)
    try:
        return {slug for slug in ("first", "second") if model.tool(slug) is not None}
    finally:
        model.close()


def listener_pids(name: str) -> list[int]:
    with psycopg.connect(URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"{APPLICATION_NAME} {name}",),
        ).fetchall()
    return [pid for (pid,) in rows]


def test_another_nodes_write_wakes_the_projector(
    postgres: Postgres, tmp_path: Path
) -> None:
    # given a node whose fallback poll would not come for 30 s
    with node(postgres.ledger(), tmp_path / "a.sqlite", LONG) as (projector, _):
        # when another ledger on the same log writes
        position = register(postgres.ledger(), "first")
        # then the node has projected it long before its poll was due
        assert projector.wait_for(position, timeout=LONG / 3)
    assert tools(tmp_path / "a.sqlite") == {"first"}


def test_killed_listening_connection_polls_then_reconnects(
    postgres: Postgres, tmp_path: Path
) -> None:
    fallback = 1.0
    writer = postgres.ledger()
    with node(postgres.ledger(), tmp_path / "a.sqlite", fallback) as (
        projector,
        following,
    ):
        name = following.settings.node_name
        [killed] = listener_pids(name)
        # when its listening connection, and only it, is terminated
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        assert until(lambda: not following.listener.listening)
        position = register(writer, "first")
        # then the node still catches up on its fallback poll
        assert projector.wait_for(position, timeout=3 * fallback)
        # and listens again on a new connection, which wakes it as before
        assert until(lambda: following.listener.connections == 2)
        assert until(lambda: following.listener.listening)
        [again] = listener_pids(name)
        assert again != killed
        woken = threading.Event()
        following.also_wake(woken.set)
        position = register(writer, "second")
        assert woken.wait(LONG / 3)
        assert projector.wait_for(position, timeout=LONG / 3)
    assert tools(tmp_path / "a.sqlite") == {"first", "second"}


def test_rolled_back_insert_leaves_a_gap_the_node_passes(
    postgres: Postgres, tmp_path: Path
) -> None:
    writer = postgres.ledger()
    first = register(writer, "first")
    recorder = writer.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    with node(postgres.ledger(), tmp_path / "a.sqlite", LONG) as (projector, _):
        assert projector.position == first
        # given an insert that took the next notification id and rolled back
        with psycopg.connect(URL) as conn:
            conn.execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, "
                "state) VALUES (%s, 1, 'rolled:Back', '')",
                (uuid.uuid4(),),
            )
            conn.rollback()
        # when the next event is appended past the gap
        second = register(writer, "second")
        assert second == first + 2
        # then the node projects it, neither stalled nor skipping
        assert projector.wait_for(second, timeout=LONG / 3)
    assert tools(tmp_path / "a.sqlite") == {"first", "second"}


def test_an_id_committed_after_a_later_one_is_never_skipped(
    postgres: Postgres, tmp_path: Path
) -> None:
    slow, fast = postgres.ledger(), postgres.ledger()
    recorder = slow.recorder
    pending = Tool.register(CTX, "first", FIELDS).collect_events()
    stored = [slow.mapper.to_stored_event(event) for event in pending]
    took_id, release = threading.Event(), threading.Event()
    ids: list[int] = []
    with node(postgres.ledger(), tmp_path / "a.sqlite", LONG) as (projector, _):
        # given a transaction that has taken notification id N, not committed
        def slow_append() -> None:
            with recorder.datastore.transaction(commit=True) as curs:
                recorder._insert_stored_events(curs, stored)
                ids.extend(recorder._fetch_ids_after_insert_events(curs, stored))
                took_id.set()
                release.wait(10)

        slow_thread = threading.Thread(target=slow_append)
        slow_thread.start()
        assert took_id.wait(10)
        # when another append starts meanwhile (it waits for the table lock)
        positions: list[int] = []
        fast_thread = threading.Thread(
            target=lambda: positions.append(register(fast, "second"))
        )
        fast_thread.start()
        assert until(lambda: waiting_for_lock(recorder.datastore.schema))
        release.set()
        slow_thread.join(10)
        fast_thread.join(10)
        # then N+1 went to the later append, and the node projected both
        assert positions == [ids[0] + 1]
        assert projector.wait_for(positions[0], timeout=LONG / 3)
    assert tools(tmp_path / "a.sqlite") == {"first", "second"}


def waiting_for_lock(schema: str) -> bool:
    """Whether some session waits for a lock on a table of ``schema``."""
    with psycopg.connect(URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT l.granted AND n.nspname = %s",
            (schema,),
        ).fetchone()
    return row is not None and row[0] > 0


def test_status_lists_every_node_with_its_lag(
    postgres: Postgres, tmp_path: Path
) -> None:
    writer = postgres.ledger()
    register(writer, "first")
    names = [f"node-a-{uuid.uuid4().hex[:8]}", f"node-b-{uuid.uuid4().hex[:8]}"]
    with (
        node(postgres.ledger(), tmp_path / "a.sqlite", LONG, names[0]) as (a, _),
        node(postgres.ledger(), tmp_path / "b.sqlite", LONG, names[1]) as (b, _),
    ):
        position = register(writer, "second")
        assert a.wait_for(position, timeout=10)
        assert b.wait_for(position, timeout=10)
        registry = registry_of(writer)
        assert registry is not None
        assert until(
            lambda: (
                [(n.name, n.projected) for n in registry.nodes()]
                == [(names[0], position), (names[1], position)]
            )
        )
    # a node that stopped keeps its last report while the log moves on
    head = register(writer, "third")
    result = run_ledger(
        tmp_path / "home",
        "status",
        env={"LEDGER_EVENT_STORE": URL, **postgres.env},
    )
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
        for line in result.stdout.splitlines()
        if any(name in line for name in names)
    }
    assert rows == {
        name: [str(head), str(position), str(head - position)] for name in names
    }


def test_ledger_project_follow_listens_and_reports(
    postgres: Postgres, tmp_path: Path
) -> None:
    writer = postgres.ledger()
    home = tmp_path / "node"
    name = f"node-cli-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **postgres.env,
        "LEDGER_HOME": str(home),
        "LEDGER_EVENT_STORE": URL,
        "LEDGER_FOLLOW_FALLBACK": str(LONG),
        "LEDGER_NODE_NAME": name,
    }
    # given `ledger project --follow` on a node whose poll would take 30 s
    process = subprocess.Popen(
        [LEDGER, "project", "--follow", "--poll-interval", str(LONG)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "projected up to position 0" in process.stdout.readline()
        assert until(lambda: len(listener_pids(name)) == 1)
        # when another ledger writes
        position = register(writer, "first")
        # then the node's read models and its row in ledger_nodes show it
        model = ReadModel(readmodel_path(Settings(home=home)))
        try:
            assert model.wait_for(position, timeout=LONG / 3)
        finally:
            model.close()
        registry = registry_of(writer)
        assert registry is not None
        assert until(
            lambda: (
                [(n.name, n.projected) for n in registry.nodes()] == [(name, position)]
            )
        )
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"stopped at position {position}" in out
    assert listener_pids(name) == []
