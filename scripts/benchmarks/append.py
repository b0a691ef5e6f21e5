"""Durable appends: the ledger's commands beside raw SQLite and stock eventsourcing.

Measured in one run, in one temporary directory on one disk, in interleaved
rounds so that any drift of the disk or the CPU falls on all three alike;
each figure is the median of its rounds' rates:

(a) raw: sqlite3 one-row transactions (``BEGIN``, ``INSERT``, ``COMMIT``) in
    WAL mode with ``synchronous=FULL``, into a table shaped like
    eventsourcing's ``stored_events``, each row a real encoded vote event.
    This is the floor for one durable append on this disk.
(b) ledger: the ledger's commands one by one, a realistic mix of nine
    ``cast_vote`` by distinct voters to one ``submit_review`` by a panel
    reviewer on a tool it has not reviewed yet. Each is the whole command:
    rules, checks of the tool and reviewer, the keyed voter hash, one durable
    append.
(c) eventsourcing JSON: the same ``Ledger`` class and the same commands on
    eventsourcing's stock infrastructure: its default ``Mapper`` with the
    ``JSONTranscoder``, its SQLite recorder and connection pool, and no
    aggregate cache. Using the ledger itself rather than a separate plain
    eventsourcing application keeps the domain work and the events appended
    identical on both sides, so b/c measures exactly what the ledger's own
    persistence choices buy (msgspec codec, statement cache, conditional
    appends on cached tools and reviewers, the lean append path) and nothing
    else. Its connections, like (a)'s and (b)'s, commit with
    ``synchronous=FULL``; the benchmark checks all three before measuring.

Goals (issue 2): b/a >= 0.6 and b/c >= 1.2.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar, Protocol

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from benchmarks.report import Figures, Row, filesystem
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.domainmodel import Vote
from ledger.rules import VERDICTS
from ledger.settings import Settings

TITLE = "append: durable single-event appends, one command at a time"
ROWS = [
    Row("(a) raw sqlite3 one-row transactions", "raw_tx_per_s", "/s"),
    Row("(c) eventsourcing JSON, same commands", "eventsourcing_json_per_s", "/s"),
    Row(
        "(b) ledger commands vs (a)",
        "ledger_cmd_per_s",
        "/s",
        baseline="raw_tx_per_s",
        ratio="ratio_vs_raw",
        goal=0.6,
    ),
    Row(
        "(b) ledger commands vs (c)",
        "ledger_cmd_per_s",
        "/s",
        baseline="eventsourcing_json_per_s",
        ratio="ratio_vs_eventsourcing",
        goal=1.2,
    ),
]

REVIEW_EVERY = 10  # one submit_review per nine cast_vote
TOOLS = ("alpha-coder", "beta-chat", "gamma-agent", "delta-ide")
SYNCHRONOUS_FULL = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--count",
        type=int,
        default=3000,
        help="commands (and raw transactions) per variant (default 3000)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="interleaved rounds the count is split into (default 10)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="stop each variant once it has run this long in total",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the temporary stores go; choose the disk to measure",
    )
    parser.add_argument("--keep", action="store_true", help="keep the stores")


class Variant(Protocol):
    name: str

    def prepare(self, count: int) -> None: ...

    def step(self, index: int) -> None: ...

    def close(self) -> None: ...


class RawSQLite:
    """(a): one-row transactions with nothing in between."""

    name = "raw"

    def __init__(self, path: Path, state: bytes) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE stored_events (originator_id TEXT, "
            "originator_version INTEGER, topic TEXT, state BLOB, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        self.topic = "ledger.domainmodel:Vote.Cast"
        self.state = state

    def prepare(self, count: int) -> None:
        self.ids = [uuid.uuid4().hex for _ in range(count)]

    def step(self, index: int) -> None:
        db = self.db
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO stored_events VALUES (?,?,?,?)",
            (self.ids[index], 1, self.topic, self.state),
        )
        db.execute("COMMIT")

    def synchronous(self) -> int:
        return int(self.db.execute("PRAGMA synchronous").fetchone()[0])

    def close(self) -> None:
        self.db.close()


class StockLedger(Ledger):
    """The ledger on eventsourcing's stock infrastructure, for (c)."""

    env: ClassVar[dict[str, str]] = {}  # no aggregate cache, as by default

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return Application.construct_mapper(self)


class Commands:
    """(b) and (c): the mix of ledger commands, one call each."""

    def __init__(self, name: str, ledger: Ledger) -> None:
        self.name = name
        self.ledger = ledger
        self.voters = Context(actor="voter", request_id="bench")

    def prepare(self, count: int) -> None:
        editor = Context(actor="editor:bench", request_id="bench-setup")
        for slug in TOOLS:
            fields = {"name": slug.title(), "vendor": "Bench", "category": "Bench"}
            self.ledger.register_tool(editor, slug, fields)
        reviews = count // REVIEW_EVERY + 1
        for index in range(math.ceil(reviews / len(TOOLS))):
            self.ledger.enroll_reviewer(
                editor, f"panel-{index}", name=f"Panel {index}", lens="builder"
            )

    def step(self, index: int) -> Receipt:
        """Runs command ``index`` of the mix; distinct indexes never conflict."""
        if index % REVIEW_EVERY == REVIEW_EVERY - 1:
            review = index // REVIEW_EVERY
            handle = f"panel-{review // len(TOOLS)}"
            return self.ledger.submit_review(
                Context(actor=f"reviewer:{handle}", request_id=f"bench-{index}"),
                TOOLS[review % len(TOOLS)],
                handle,
                verdict=VERDICTS[review % 2],
                rationale="Measured on the bench: it does what it says, quickly.",
            )
        return self.ledger.cast_vote(
            self.voters,
            f"bench-voter-{index}",
            TOOLS[index % len(TOOLS)],
            VERDICTS[index % 2],
        )

    def tool(self, index: int) -> str:
        """The tool whose card command ``index`` changes."""
        if index % REVIEW_EVERY == REVIEW_EVERY - 1:
            return TOOLS[index // REVIEW_EVERY % len(TOOLS)]
        return TOOLS[index % len(TOOLS)]

    def synchronous(self) -> int:
        recorder: Any = self.ledger.recorder  # an SQLite recorder, stock or ours
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            return int(cursor.fetchone()[0])

    def close(self) -> None:
        self.ledger.close()


def sample_state(home: Path) -> bytes:
    """A vote event as the ledger stores it, to make (a)'s rows realistic."""
    ledger = Ledger(Settings(home=home))
    try:
        ctx = Context(actor="voter:" + "0" * 32, request_id="bench")
        vote = Vote.cast(ctx, "tool:alpha-coder", "0" * 32, "ship", VERDICTS)
        return ledger.mapper.to_stored_event(vote.collect_events()[0]).state
    finally:
        ledger.close()


def run(args: argparse.Namespace) -> Figures:
    """Prepares the three stores, runs the interleaved rounds, returns the rates."""
    if args.count < args.rounds or args.rounds < 1:
        msg = "--count must be at least --rounds, and --rounds at least 1"
        raise SystemExit(msg)
    say = (lambda _: None) if args.json else _say
    root = Path(tempfile.mkdtemp(prefix="bench-append-", dir=args.dir))
    variants: list[Any] = []
    try:
        say(f"stores in {root} ({filesystem(root)})")
        variants = [
            RawSQLite(root / "raw.sqlite", sample_state(root / "sample")),
            Commands("ledger", Ledger(Settings(home=root / "ledger"))),
            Commands(
                "eventsourcing",
                StockLedger(
                    Settings(home=root / "eventsourcing"),
                    env={"PERSISTENCE_MODULE": "eventsourcing.sqlite"},
                ),
            ),
        ]
        for variant in variants:
            if variant.synchronous() != SYNCHRONOUS_FULL:
                msg = f"{variant.name} does not commit with synchronous=FULL"
                raise SystemExit(msg)
            variant.prepare(args.count)
        rates = _measure(variants, args.count, args.rounds, args.seconds)
        for name, per_round in rates.items():
            low, high = min(per_round), max(per_round)
            say(f"{name}: {len(per_round)} rounds, {low:,.0f} to {high:,.0f} /s")
    finally:
        for variant in variants:
            variant.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    rate = {name: statistics.median(per_round) for name, per_round in rates.items()}
    return {
        "raw_tx_per_s": round(rate["raw"], 1),
        "ledger_cmd_per_s": round(rate["ledger"], 1),
        "eventsourcing_json_per_s": round(rate["eventsourcing"], 1),
        "ratio_vs_raw": round(rate["ledger"] / rate["raw"], 3),
        "ratio_vs_eventsourcing": round(rate["ledger"] / rate["eventsourcing"], 3),
    }


def _measure(
    variants: list[Any], count: int, rounds: int, seconds: float | None
) -> dict[str, list[float]]:
    """Each variant's rate in each of ``rounds`` interleaved slices of ``count``.

    The figures are the medians of these, so that a burst of load from
    elsewhere on the machine during one slice does not decide a ratio.
    """
    done = {variant.name: 0 for variant in variants}
    rates: dict[str, list[float]] = {name: [] for name in done}
    per_round = math.ceil(count / rounds)
    budget = math.inf if seconds is None else seconds / rounds
    clock = time.perf_counter
    for round_index in range(rounds):
        shift = round_index % len(variants)  # each variant goes first in turn
        for variant in variants[shift:] + variants[:shift]:
            first = index = done[variant.name]
            last = min(first + per_round, count)
            if index == last:
                continue
            step = variant.step
            started = clock()
            while index < last:
                step(index)
                index += 1
                if clock() - started > budget:
                    break
            rates[variant.name].append((index - first) / (clock() - started))
            done[variant.name] = index
    return rates


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
