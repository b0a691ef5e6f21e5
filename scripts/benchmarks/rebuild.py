"""How fast the read models rebuild from the log, beside two baselines.

Generates a realistic log (tools, a panel, reviews with revisions and
withdrawals, comparisons, and mostly community votes cast, changed and
retracted, over two simulated years) straight into a fresh event store with
:mod:`benchmarks.sitelife`, since appending a million events one command at a
time would take the better part of an hour. Then it measures, in one run,
``--rounds`` interleaved rounds of:

(a) scanning the log and decoding every event with msgspec, nothing else
    (the same reads and decoder the rebuild uses);
(b) a full rebuild of every read model (in a child process, for a fair peak
    RSS: its own and its helper processes', added), which is what
    ``ledger rebuild`` does;
(c) the naive path: eventsourcing's ``ProjectionRunner`` way, one domain
    event and one transaction (with its tracking record) at a time, on a
    sample of the log, extrapolated.

Each figure is the median of its rounds, and the ratios are of those
medians; the peak RSS is the highest of the rounds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS = {"rebuild_per_s": 150_000, "ratio_vs_naive": 30, "peak_rss_mb": 300}
NAIVE_SAMPLE = 3000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="log length (default 1M)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=NAIVE_SAMPLE,
        help="events projected one transaction each for baseline (c)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of (a), (b) and (c); figures are medians (default 3)",
    )
    parser.add_argument(
        "--home", type=Path, help="keep the generated ledger here (default: temp)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generates the log, measures (a), (b), (c) and returns the figures."""
    from benchmarks.sitelife import generate

    if args.events < 1000:
        msg = "--events must be at least 1000"
        raise SystemExit(msg)
    if args.rounds < 1:
        msg = "--rounds must be at least 1"
        raise SystemExit(msg)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    say = (lambda *_: None) if args.json else _say
    try:
        started = time.perf_counter()
        generated = generate(home, args.events, args.seed)
        say(f"generated {generated:,} events in {time.perf_counter() - started:.1f} s")
        scans, children, naives = [], [], []
        for _ in range(args.rounds):
            scans.append(measure_scan(home))
            say(f"(a) scan + decode: {scans[-1]:,.0f} events/s")
            children.append(measure_rebuild(home))
            say(f"(b) rebuild:       {children[-1]['rate']:,.0f} events/s")
            naives.append(measure_naive(home, args.naive_sample))
            say(f"(c) naive:         {naives[-1]:,.0f} events/s")
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    # Medians, so that a burst of load from elsewhere on the machine during
    # one round does not decide a ratio; the peak is the highest seen.
    scan = statistics.median(scans)
    rate = statistics.median(child["rate"] for child in children)
    naive = statistics.median(naives)
    figures = {
        "events": children[0]["events"],
        "scan_decode_per_s": round(scan),
        "rebuild_per_s": round(rate),
        "naive_per_s": round(naive),
        "ratio_vs_scan": round(rate / scan, 3),
        "ratio_vs_naive": round(rate / naive, 1),
        "peak_rss_mb": round(max(child["peak_rss_mb"] for child in children), 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        _table(figures)
    return figures


def _say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _table(figures: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def goal(met: bool, text: str) -> tuple[str, str]:
        return text, "[green]met[/]" if met else "[red]missed[/]"

    rate, ratio, rss = (
        figures["rebuild_per_s"],
        figures["ratio_vs_naive"],
        figures["peak_rss_mb"],
    )
    rows = [
        ("events", f"{figures['events']:,}", ("", "")),
        ("(a) scan + decode", f"{figures['scan_decode_per_s']:,} /s", ("", "")),
        (
            "(b) rebuild",
            f"{rate:,} /s",
            goal(rate >= GOALS["rebuild_per_s"], f">= {GOALS['rebuild_per_s']:,} /s"),
        ),
        ("(c) naive, 1 txn/event", f"{figures['naive_per_s']:,} /s", ("", "")),
        ("b / a", f"{figures['ratio_vs_scan']:.2f}", ("", "")),
        (
            "b / c",
            f"{ratio:.1f}x",
            goal(ratio >= GOALS["ratio_vs_naive"], f">= {GOALS['ratio_vs_naive']}x"),
        ),
        (
            "peak RSS of (b)",
            f"{rss:.0f} MB",
            goal(rss <= GOALS["peak_rss_mb"], f"<= {GOALS['peak_rss_mb']} MB"),
        ),
    ]
    table = Table("figure", "value", "goal", "", title="rebuild benchmark")
    for label, value, (target, verdict) in rows:
        table.add_row(label, value, target, verdict)
    Console().print(table)


# Measuring.


def measure_scan(home: Path) -> float:
    """(a) Events per second of reading the log and decoding every event.

    The same read path and decoder a bulk rebuild's fold uses (one plain
    ``SELECT`` per batch through APSW, one msgspec decode per event), so
    (b)/(a) is what folding and writing every read model costs on top of
    merely reading the log.
    """
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections.decoding import decode
    from projections.rebuild.scratch import connect_apsw
    from projections.source import LogFile, LogSource

    ledger = Ledger(Settings(home=home))
    source = LogSource(ledger)
    log_file = source.sqlite_file
    source.close()
    ledger.close()  # APSW alone may have the file open in this process
    assert log_file is not None
    log = LogFile(connect_apsw(log_file[0], read_only=True), log_file[1])
    try:
        started = time.perf_counter()
        count = after = 0
        while batch := log.read(after, 20_000):
            for raw in batch:
                decode(raw)
            count += len(batch)
            after = batch[-1][0]
        return count / (time.perf_counter() - started)
    finally:
        log.close()


def measure_rebuild(home: Path) -> dict[str, float]:
    """(b) A full rebuild in a child process: its rate and peak RSS."""
    result = subprocess.run(
        [sys.executable, __file__, "--child-rebuild", str(home)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child_rebuild(home: Path) -> None:
    from benchmarks.report import own_peak_rss_kb
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections import readmodel_path
    from projections.rebuild import rebuild

    settings = Settings(home=home)
    ledger = Ledger(settings)
    result = rebuild(ledger, readmodel_path(settings))
    ledger.close()
    # A bulk rebuild folds and loads the audit in two helper processes while
    # this one waits: the three peaks, added, bound what they held at once.
    peak_kb = own_peak_rss_kb() + result.helpers_peak_rss_kb
    print(
        json.dumps(
            {
                "events": result.events,
                "seconds": result.seconds,
                "rate": result.rate,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def measure_naive(home: Path, sample: int) -> float:
    """(c) One event per transaction, the ``ProjectionRunner`` way, on a sample."""
    from eventsourcing.persistence import Tracking

    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections.source import LogSource

    ledger = Ledger(Settings(home=home))
    target = home / "naive.sqlite"
    source = LogSource(ledger)
    projection = NaiveProjection(NaiveView(target, source))
    try:
        notifications = ledger.recorder.select_notifications(start=1, limit=sample)
        started = time.perf_counter()
        for notification in notifications:
            projection.view.stored[notification.id] = notification
            domain_event = ledger.mapper.to_domain_event(notification)
            projection.process_event(
                domain_event, Tracking(ledger.name, notification.id)
            )
        elapsed = time.perf_counter() - started
        return len(notifications) / elapsed
    finally:
        projection.view.close()
        source.close()
        ledger.close()
        for name in ("naive.sqlite", "naive.sqlite-wal", "naive.sqlite-shm"):
            (home / name).unlink(missing_ok=True)


class NaiveView:
    """A materialised view that records each event with its tracking, alone."""

    def __init__(self, path: Path, source: Any) -> None:
        from projections import files, registry, schema

        self.source = source
        self.dispatch = registry.dispatch()
        self.conn = files.connect(path)
        schema.migrate(self.conn)
        self.stored: dict[int, Any] = {}
        """The stored event behind each domain event, by position."""

    def record(self, raw: Any, tracking: Any) -> None:
        from projections import engine

        batch = engine.Batch(self.conn, self.dispatch, log=self.source)
        engine.project(self.conn, tracking.notification_id - 1, [raw], batch)

    def close(self) -> None:
        self.conn.close()


def _naive_projection_class() -> type[Any]:
    from eventsourcing.projection import Projection

    class _NaiveProjection(Projection[Any]):
        """Processes one domain event at a time, as ``ProjectionRunner`` calls it.

        The fold reads events as stored, so each domain event is folded from
        the stored event it was mapped from (the tracking names its position).
        """

        name = "naive"

        def process_event(self, domain_event: Any, tracking: Any) -> None:
            stored = self.view.stored.pop(tracking.notification_id)
            assert stored.originator_id == domain_event.originator_id
            raw = (
                tracking.notification_id,
                stored.originator_id.hex,
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            self.view.record(raw, tracking)

    return _NaiveProjection


def NaiveProjection(view: NaiveView) -> Any:
    """eventsourcing's ``Projection`` over :class:`NaiveView` (built on first use)."""
    return _naive_projection_class()(view)


if __name__ == "__main__":
    # Run as a script: make the ``benchmarks`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if len(sys.argv) == 3 and sys.argv[1] == "--child-rebuild":
        _child_rebuild(Path(sys.argv[2]))
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        add_arguments(parser)
        run(parser.parse_args())
