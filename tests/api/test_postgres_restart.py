"""A real PostgreSQL server stopped and started under a served node's writes.

The event store of a ``ledger serve`` node with two workers is a private
cluster (:mod:`tests.private_postgres`), stopped with ``pg_ctl`` while three
clients register tools as fast as they are answered, kept down a few
seconds, and started again on the same port. A ``fast`` stop cuts the
sessions off as a planned restart does; an ``immediate`` one is a crash,
and the server recovers from its WAL on start.

While it is down every write answers 503 ``storage-unavailable`` with
``Retry-After`` within the configured timeouts, reads of the read models are
served and ``/healthz/ready`` is 503. Once it is back, every client's writes
are taken again without restarting the node, and the log holds each
acknowledged write exactly once, at the position its answer named, and
nothing no request asked for. A client retries a refused write with the same
``Idempotency-Key`` (each attempt under an ``X-Request-ID`` of its own), so
an append whose answer was lost to the stop is found, not made twice.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from ledger import demo, log
from ledger.application import Ledger
from ledger.auth import open_token_store
from ledger.settings import Settings
from tests.api.helpers import CARD, problem, served
from tests.private_postgres import Cluster, private_cluster

WRITERS = 3
DOWN_SECONDS = 3.0
LOCK_TIMEOUT = 1
SLOWEST_ANSWER = 10.0
"""Seconds any write may take to be answered, up or down: the pool's wait
(``LEDGER_LOCK_TIMEOUT``) plus the recorder's retries on fresh connections
(``RETRY_SECONDS``), with room for a loaded machine."""
RECOVERY_SECONDS = 20.0
"""How soon after the server is back every client's writes are taken: the
pool reconnects within ``RECONNECT_SECONDS``."""


@dataclass
class Attempt:
    """One request of a write, and how it was answered."""

    request_id: str
    sent: float
    seconds: float
    answer: httpx.Response | None  # None: no answer (a transport error)

    @property
    def status(self) -> int:
        return self.answer.status_code if self.answer is not None else 0

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Write:
    """A tool registration as a client makes it: sent until acknowledged."""

    slug: str
    attempts: list[Attempt] = field(default_factory=list)

    def acknowledgement(self) -> Attempt | None:
        return next((a for a in self.attempts if a.acknowledged), None)


class WriteLoad:
    """Clients registering tools, each retrying a refused write until it is taken."""

    def __init__(self, base: str, editor: str) -> None:
        self.base = base
        self.editor = editor
        self.writes: list[list[Write]] = [[] for _ in range(WRITERS)]
        self._names = itertools.count()
        self._stop = threading.Event()
        self._threads = [
            # Daemons: a failed assertion must not leave the test run waiting.
            threading.Thread(target=self._write, args=(index,), daemon=True)
            for index in range(WRITERS)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in self._threads)

    def _write(self, index: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self._stop.is_set():
                write = Write(f"load-{index}-{next(self._names)}")
                self.writes[index].append(write)
                while not self._stop.is_set():
                    attempt = self._send(client, write)
                    if attempt.status != 503:
                        break
                    # Sooner than Retry-After says, to keep the load on.
                    time.sleep(0.2)

    def _send(self, client: httpx.Client, write: Write) -> Attempt:
        request_id = uuid.uuid4().hex
        tool = {"slug": write.slug, "name": write.slug, "vendor": "V", "category": "C"}
        headers = {
            "Authorization": f"Bearer {self.editor}",
            "Idempotency-Key": f"key-{write.slug}",
            "X-Request-ID": request_id,
        }
        sent = time.monotonic()
        try:
            answer: httpx.Response | None = client.post(
                "/api/tools", json=tool, headers=headers
            )
        except httpx.TransportError:
            answer = None
        attempt = Attempt(request_id, sent, time.monotonic() - sent, answer)
        write.attempts.append(attempt)
        return attempt

    def attempts(self) -> list[Attempt]:
        return [a for writes in self.writes for w in list(writes) for a in w.attempts]

    def all_writes(self) -> list[Write]:
        return [write for writes in self.writes for write in list(writes)]

    def taken_since(self, moment: float, each: int) -> bool:
        """Whether every client had ``each`` writes taken, sent after ``moment``."""
        return all(
            sum(
                1
                for write in list(writes)
                for attempt in write.attempts
                if attempt.sent > moment and attempt.acknowledged
            )
            >= each
            for writes in self.writes
        )

    def refused_since(self, moment: float) -> int:
        return sum(1 for a in self.attempts() if a.sent > moment and a.status == 503)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A private PostgreSQL server for this module's tests, removed after them.

    Its WAL writer sleeps long, so WAL that an append did not flush itself
    stays in the server's memory: an ``immediate`` stop then loses it, as a
    crash would, and the test sees an acknowledged write missing.
    """
    with private_cluster(wal_writer_delay="10s") as cluster:
        yield cluster


@contextmanager
def node(
    root: Path, cluster: Cluster
) -> Iterator[tuple[str, str, Callable[[], list[log.LoggedEvent]]]]:
    """A served node on the demo ledger in a fresh schema of ``cluster``.

    Yields its base URL, the editor's token, and a function that reads the
    whole log through a ledger of its own (opened afresh each time, so it
    holds no connection across a stop).
    """
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    env = {"POSTGRES_SCHEMA": schema}
    home = root / "node"
    ledger = Ledger(Settings(home=home, event_store=cluster.url), env)
    try:
        demo.load(ledger)
    finally:
        ledger.close()
    # The tokens are where the node looks for them: beside the log.
    store = open_token_store(Settings(home=home, event_store=cluster.url), env)
    try:
        editor = store.create("editor")
    finally:
        store.close()

    def read_log() -> list[log.LoggedEvent]:
        reader = Ledger(Settings(home=root / "reader", event_store=cluster.url), env)
        try:
            return log.read(reader.recorder, limit=1_000_000)
        finally:
            reader.close()

    node_env = {
        **env,
        "LEDGER_EVENT_STORE": cluster.url,
        "LEDGER_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "LEDGER_READY_TIMEOUT": "0.2",
        "LEDGER_MIN_POSITION_TIMEOUT": "10",
    }
    with served(home, workers=2, env=node_env) as base:
        yield base, editor, read_log


def _eventually(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _ready_status(base: str) -> int:
    return httpx.get(base + "/healthz/ready", timeout=10).status_code


def _reads_are_served(base: str) -> None:
    """The read models answer with the event store down."""
    card = httpx.get(base + CARD, timeout=10)
    assert card.status_code == 200, card.text
    assert card.json()["slug"] == "code-llama-4"
    for path in ("/api/tools", "/tools/code-llama-4", "/healthz/live"):
        assert httpx.get(base + path, timeout=10).status_code == 200, path


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_writes_ride_out_postgresql_stopped_and_started(
    tmp_path: Path, cluster: Cluster, mode: str
) -> None:
    with node(tmp_path, cluster) as (base, editor, read_log):
        before = read_log()
        load = WriteLoad(base, editor)
        load.start()
        try:
            assert _eventually(lambda: load.taken_since(0, 3), 30)
            cluster.stop(mode)
            stopped = time.monotonic()
            # Writes refused, with readiness failing and reads served.
            assert _eventually(lambda: load.refused_since(stopped) >= 2 * WRITERS, 20)
            assert _eventually(lambda: _ready_status(base) == 503, 10)
            refused = httpx.get(base + "/healthz/ready", timeout=10)
            assert problem(refused, 503)["type"] == "/problems/not-ready"
            assert "event_store" in refused.json()["detail"]
            _reads_are_served(base)
            time.sleep(max(0.0, stopped + DOWN_SECONDS - time.monotonic()))
            restarting = time.monotonic()
            cluster.start()
            # Every client's writes are taken again, the node unrestarted.
            assert _eventually(
                lambda: load.taken_since(restarting, 3), RECOVERY_SECONDS
            ), cluster.log_tail()
            assert _eventually(lambda: _ready_status(base) == 200, 10)
        finally:
            load.stop()
        after = read_log()
        attempts = load.attempts()
        writes = load.all_writes()

        # Every answer is a 2xx or a 503, in time; no 500, no hang.
        assert all(a.status in (200, 201, 503) for a in attempts), [
            (a.status, a.answer.text if a.answer else "") for a in attempts
        ]
        assert max(a.seconds for a in attempts) < SLOWEST_ANSWER
        down = [
            a for a in attempts if stopped < a.sent and a.sent + a.seconds < restarting
        ]
        assert len(down) >= 2 * WRITERS
        for attempt in down:
            assert attempt.status == 503
        for attempt in attempts:
            if attempt.status == 503:
                assert attempt.answer is not None
                body = problem(attempt.answer, 503)
                assert body["type"] == "/problems/storage-unavailable"
                assert attempt.answer.headers["Retry-After"].isdigit()

        # The log: what it held, then each write at most once, every
        # acknowledged one exactly once where its answer said, and no event
        # that none of the requests asked for.
        assert after[: len(before)] == before
        appended = after[len(before) :]
        assert {event.type for event in appended} == {"Tool.Registered"}
        sent_ids = {a.request_id for a in attempts}
        assert all(event.request_id in sent_ids for event in appended)
        per_slug = collections.Counter(event.data["slug"] for event in appended)
        assert max(per_slug.values()) == 1
        by_slug = {event.data["slug"]: event for event in appended}
        acknowledged = [w for w in writes if w.acknowledgement() is not None]
        assert len(acknowledged) >= 6 * WRITERS
        for write in writes:
            ack = write.acknowledgement()
            event = by_slug.get(write.slug)
            if ack is None:
                # Given up on when the load stopped: made or not, but once.
                continue
            assert event is not None, f"acknowledged {write.slug} is not in the log"
            assert ack.answer is not None
            assert event.position == ack.answer.json()["position"]
            ids = [a.request_id for a in write.attempts]
            assert event.request_id in ids
            # Made by the attempt acknowledged, or by a refused one whose
            # answer the stop cut short, which the retry then replayed.
            if event.request_id != ack.request_id:
                assert ack.answer.headers.get("Idempotent-Replayed") == "true"
        # Each request id stamped on at most one event.
        per_request = collections.Counter(event.request_id for event in appended)
        assert max(per_request.values()) == 1

        # The node's read models hold every acknowledged write.
        newest = max(by_slug[w.slug].position for w in acknowledged)
        for write in acknowledged:
            seen = httpx.get(
                f"{base}/api/tools/{write.slug}",
                params={"min_position": newest},
                timeout=15,
            )
            assert seen.status_code == 200, seen.text
            assert seen.json()["name"] == write.slug
