"""The log on PostgreSQL: appends, a rebuild and a second node's lag, in one run.

On two private schemas of the server's database that it creates and drops
(``PREFIX_writes`` and ``PREFIX_log``), it measures:

(a) eventsourcing's plain PostgreSQL saves: a stock ``Application`` on
    ``eventsourcing.postgres`` saving a new trivial aggregate (one event) at
    a time, in one writer process;
(b) the ledger's commands (``append``'s mix: nine votes to one review) in
    one writer process;
(c) the same commands in four writer processes at once;
    (a), (b) and (c) run in ``--rounds`` interleaved rounds and are medians;
(d) ``ledger rebuild`` reading a generated log (``sitelife``, ``--events``)
    from PostgreSQL, beside
(e) the same rebuild of the same log (copied event for event) from SQLite,
    in ``--rebuild-rounds`` alternating rounds;
(f) a second node: a ledger of its own home on the same log, its projector
    woken by LISTEN/NOTIFY (:mod:`projections.log_listener`) and polling
    every ``--poll-interval`` s: p50 and p99 of the time from a command's
    return on the first node to its position projected on the second, over
    ``--samples`` commands one after another.

Goals (issue 14): b/a >= 0.8, c/b >= 1.5, d/e >= 0.5, lag p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from benchmarks.append import Commands
from benchmarks.lag import percentile
from benchmarks.pg_writers import Job, Store, create_tables, rate
from benchmarks.report import Figures, Row, filesystem
from benchmarks.sitelife import INSERT_BATCH, generate
from ledger.application import Ledger
from ledger.settings import Settings

TITLE = "postgres: the log on PostgreSQL"
ROWS = [
    Row("(a) eventsourcing saves, 1 process", "es_save_per_s", "/s"),
    Row(
        "(b) ledger commands, 1 process, vs (a)",
        "cmd_1w_per_s",
        "/s",
        baseline="es_save_per_s",
        ratio="ratio_cmd_vs_es",
        goal=0.8,
    ),
    Row(
        "(c) ledger commands, 4 processes, vs (b)",
        "cmd_4w_per_s",
        "/s",
        baseline="cmd_1w_per_s",
        ratio="ratio_4w_vs_1w",
        goal=1.5,
    ),
    Row("events in the rebuilt log", "events"),
    Row("(e) rebuild from SQLite", "rebuild_sqlite_per_s", "/s"),
    Row(
        "(d) rebuild from PostgreSQL vs (e)",
        "rebuild_pg_per_s",
        "/s",
        baseline="rebuild_sqlite_per_s",
        ratio="ratio_rebuild_pg_vs_sqlite",
        goal=0.5,
    ),
    Row("(f) lag to a second node, p50", "node_lag_p50_ms", " ms"),
    Row("(f) lag to a second node, p99", "node_lag_p99_ms", " ms", ceiling=100),
]

URL = "postgresql://postgres@127.0.0.1:5432/test"
WRITERS = 4
LAG_TIMEOUT = 10.0
"""Seconds a command's position may take to reach the second node."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument("--url", default=URL, help=f"the server (default {URL})")
    parser.add_argument(
        "--schema",
        help="prefix of the two schemas made and dropped (default: bench_pg_RANDOM)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=3000,
        help="appends per variant of (a), (b), (c), over all rounds (default 3000)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of (a), (b), (c) (default 5)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=200_000,
        help="length of the rebuilt log (default 200k)",
    )
    parser.add_argument(
        "--rebuild-rounds", type=int, default=3, help="rounds of (d), (e) (default 3)"
    )
    parser.add_argument("--seed", type=int, default=7, help="the log's random seed")
    parser.add_argument(
        "--samples", type=int, default=300, help="commands timed for (f) (default 300)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.5,
        help="the second node's fallback poll, in seconds (default 0.5)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the homes and the SQLite log go",
    )


def run(args: argparse.Namespace) -> Figures:
    """Makes the schemas, measures (a) to (f), drops them; returns the figures."""
    if args.rounds < 1 or args.count < args.rounds * WRITERS:
        raise SystemExit(f"--rounds >= 1 and --count >= {WRITERS} x --rounds")
    if args.events < 1000 or args.rebuild_rounds < 1:
        raise SystemExit("--events >= 1000 and --rebuild-rounds >= 1")
    if args.samples < 2 or args.poll_interval <= 0:
        raise SystemExit("--samples >= 2 and --poll-interval > 0")
    say = (lambda _: None) if args.json else _say
    prefix = args.schema or f"bench_pg_{uuid.uuid4().hex[:12]}"
    root = Path(tempfile.mkdtemp(prefix="bench-postgres-", dir=args.dir))
    try:
        say(f"schemas {prefix}_writes and {prefix}_log; files in {root}")
        with _schemas(args.url, prefix) as (writes, log):
            store = Store(str(root / "node-1"), args.url, writes)
            indexes = Indexes()
            per_round = math.ceil(args.count / args.rounds)
            _prepare(store, args.rounds * (3 * per_round + 2 + WRITERS) + args.samples)
            figures = _appends(store, indexes, args.count, args.rounds, say)
            lags = _lags(store, indexes, root / "node-2", args)
            say(f"(f) lag: {min(lags):.1f} to {max(lags):.1f} ms")
            events, sqlite, pg = _rebuilds(
                root, Store(str(root / "pg"), args.url, log), args, say
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures |= {
        "events": events,
        "rebuild_sqlite_per_s": round(sqlite),
        "rebuild_pg_per_s": round(pg),
        "ratio_rebuild_pg_vs_sqlite": round(pg / sqlite, 3),
        "node_lag_p50_ms": round(percentile(lags, 50), 2),
        "node_lag_p99_ms": round(percentile(lags, 99), 2),
    }
    return figures


@contextlib.contextmanager
def _schemas(url: str, prefix: str) -> Iterator[tuple[str, str]]:
    """Creates ``PREFIX_writes`` and ``PREFIX_log``; drops both afterwards."""
    names = (f"{prefix}_writes", f"{prefix}_log")
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise SystemExit(f"PostgreSQL is not reachable at {url}: {error}") from None
    with admin:
        made = []
        try:
            for name in names:
                try:
                    admin.execute(SQL("CREATE SCHEMA {0}").format(Identifier(name)))
                except psycopg.errors.DuplicateSchema:
                    msg = f"schema {name} already exists; choose another --schema"
                    raise SystemExit(msg) from None
                made.append(name)
            yield names
        finally:
            for name in made:
                admin.execute(SQL("DROP SCHEMA {0} CASCADE").format(Identifier(name)))


class Indexes:
    """Hands out command indexes, each once, so that no two commands conflict.

    See ``Commands.step``: an index names the voter, or the reviewer and the
    tool of a review.
    """

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> int:
        """The first of ``count`` indexes nobody has had yet."""
        first, self.next = self.next, self.next + count
        return first


def _prepare(store: Store, indexes: int) -> None:
    """Makes the tables, the tools and the reviewers of the first ``indexes``."""
    create_tables(store)
    setup = Commands("ledger", store.ledger())
    try:
        setup.prepare(indexes)
    finally:
        setup.close()


def _appends(
    store: Store, indexes: Indexes, count: int, rounds: int, say: Any
) -> Figures:
    """(a), (b) and (c): each variant's median rate over interleaved rounds."""
    per_round = math.ceil(count / rounds)

    def jobs(plain: bool, writers: int) -> list[Job]:
        shares = [per_round // writers] * writers
        shares[0] += per_round % writers
        return [
            Job(store, plain, indexes.take(1), indexes.take(share), share)
            for share in shares
        ]

    variants = {"a": (True, 1), "b": (False, 1), "c": (False, WRITERS)}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for round_index in range(rounds):
        shift = round_index % len(order)  # each variant goes first in turn
        for name in order[shift:] + order[:shift]:
            rates[name].append(rate(jobs(*variants[name])))
    for name, per in rates.items():
        say(f"({name}): {len(per)} rounds, {min(per):,.0f} to {max(per):,.0f} /s")
    es, one, four = (statistics.median(rates[name]) for name in "abc")
    return {
        "es_save_per_s": round(es, 1),
        "cmd_1w_per_s": round(one, 1),
        "cmd_4w_per_s": round(four, 1),
        "ratio_cmd_vs_es": round(one / es, 3),
        "ratio_4w_vs_1w": round(four / one, 3),
    }


def _lags(
    store: Store, indexes: Indexes, home: Path, args: argparse.Namespace
) -> list[float]:
    """(f): milliseconds from each command's return to the second node's fold."""
    from projections import Projector, ReadModel, readmodel_path
    from projections.log_listener import LogListener

    first = indexes.take(args.samples)
    node_1 = Commands("node-1", store.ledger())
    node_2 = Store(str(home), store.url, store.schema)
    follower = node_2.ledger()
    path = readmodel_path(node_2.settings())
    projector = Projector(follower, path, poll_interval=args.poll_interval)
    recorder: Any = follower.recorder
    listener = LogListener(recorder, application_name="bench-node-2")
    listener.add(projector.wake)
    model = None
    try:
        projector.catch_up()
        projector.start()
        listener.start()
        _until(lambda: listener.listening, "the second node is not listening")
        model = ReadModel(path)
        lags = []
        for index in range(first, first + args.samples):
            position = node_1.step(index).position
            returned = time.perf_counter()
            if not projector.wait_for(position, timeout=LAG_TIMEOUT):
                msg = f"position {position} not on the second node in {LAG_TIMEOUT} s"
                raise RuntimeError(msg)
            lags.append((time.perf_counter() - returned) * 1000)
            card = model.tool(node_1.tool(index))
            if card is None or card.position < position:
                msg = f"the second node's read model does not show {position}"
                raise RuntimeError(msg)
        return lags
    finally:
        listener.close()
        projector.close()
        if model is not None:
            model.close()
        follower.close()
        node_1.close()


def _until(condition: Any, failure: str, timeout: float = LAG_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.01)


def _rebuilds(
    root: Path, store: Store, args: argparse.Namespace, say: Any
) -> tuple[int, float, float]:
    """(d) and (e): the log's length and the median rebuild rates of both stores."""
    from projections import readmodel_path
    from projections.rebuild import rebuild

    started = time.perf_counter()
    sqlite_settings = Settings(home=root / "sqlite")
    events = generate(sqlite_settings.home, args.events, args.seed)
    sqlite, pg = Ledger(sqlite_settings), store.ledger()
    try:
        _copy(sqlite, pg)
        say(f"generated and copied {events:,} events in {_since(started):.1f} s")
        say(f"SQLite log on {filesystem(sqlite_settings.events_path)}")
        stores = {
            "sqlite": (sqlite, readmodel_path(sqlite_settings)),
            "pg": (pg, readmodel_path(store.settings())),
        }
        rates: dict[str, list[float]] = {name: [] for name in stores}
        for round_index in range(args.rebuild_rounds):
            names = list(stores)[:: 1 if round_index % 2 == 0 else -1]
            for name in names:
                ledger, path = stores[name]
                rates[name].append(rebuild(ledger, path).rate)
                say(f"({name}) rebuild: {rates[name][-1]:,.0f} events/s")
    finally:
        sqlite.close()
        pg.close()
    return events, statistics.median(rates["sqlite"]), statistics.median(rates["pg"])


def _copy(source: Ledger, target: Ledger) -> None:
    """Appends every event of ``source``'s log to ``target``'s, in order.

    Raises:
        RuntimeError: The two logs do not end at the same position.
    """
    after = 0
    while batch := source.recorder.select_notifications(
        start=after, limit=INSERT_BATCH, inclusive_of_start=False
    ):
        target.recorder.insert_events(
            [
                StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                for n in batch
            ]
        )
        after = batch[-1].id
    if target.head_position() != source.head_position():
        msg = f"the copied log ends at {target.head_position()}, not {after}"
        raise RuntimeError(msg)


def _since(started: float) -> float:
    return time.perf_counter() - started


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
