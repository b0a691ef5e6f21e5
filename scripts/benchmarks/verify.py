"""The tamper-evident log: verifying it, projecting it, proving inclusion over HTTP.

On the generated log of ``rebuild`` (``--events``, default 1M; ``--home``
keeps it for the next run), with its read models rebuilt and a checkpoint
of the whole log signed, it measures in ``--rounds`` interleaved rounds:

(a) scanning the log and decoding every event, nothing else (the baseline
    of ``rebuild``);
(b) ``ledger verify`` of the whole log: every leaf recomputed and folded,
    every checkpoint's signature and root checked, every leaf compared with
    the one the read models' chain recorded;
(c) the live projector's fold (batches of 5,000, as a node's projector
    folds them) of the first ``--project-events`` events into a fresh file,
    with the chain among the read models, and (d) the same without it;

then, serving the ledger with ``ledger serve`` and loading it with wrk
(each load warmed up for ``--warmup`` seconds first, as a node that has
been serving for a while),
(e) inclusion proofs, ``GET /api/events/N/proof`` of a random event of
the log each (so that no answer is served twice), beside (f) the card GET
of the busiest tool.

Goals (issue 12): (b) verifies 1M events in at most 10 s and b/a >= 0.5;
c/d >= 0.85; e/f >= 0.5.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

from benchmarks import http_site, rebuild, wrk
from benchmarks.report import Figures, Row

TITLE = "verify: the tamper-evident log beside a scan, a fold without it, a card GET"
ROWS = [
    Row("events in the log", "events"),
    Row("(a) scan + decode", "scan_decode_per_s", "/s"),
    Row(
        "(b) ledger verify vs (a)",
        "verify_per_s",
        "/s",
        "scan_decode_per_s",
        "ratio_verify_vs_scan",
        0.5,
    ),
    Row("    verify, whole log", "verify_s", " s"),
    Row("(d) projector fold without the chain", "project_without_chain_per_s", "/s"),
    Row(
        "(c) projector fold with the chain vs (d)",
        "project_with_chain_per_s",
        "/s",
        "project_without_chain_per_s",
        "ratio_chain_overhead",
        0.85,
    ),
    Row("(f) card GET", "card_rps", "/s"),
    Row(
        "(e) inclusion proof GET vs (f)",
        "proof_rps",
        "/s",
        "card_rps",
        "ratio_proof_vs_card",
        0.5,
    ),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="log length (default 1M)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument(
        "--project-events",
        type=int,
        default=200_000,
        help="events folded by (c) and (d) (default 200,000)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds (default 3)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10, help="wrk seconds per HTTP load"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=5,
        help="wrk seconds of each HTTP load before measuring, unmeasured (default 5)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="ledger serve workers")
    parser.add_argument(
        "--home", type=Path, help="keep the generated ledger here (default: temp)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> Figures:
    """Makes the ledger, measures (a) to (f) and returns the figures."""
    if args.events < 1000:
        msg = "--events must be at least 1000"
        raise SystemExit(msg)
    say = (lambda _: None) if args.json else _say
    root = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    home = args.home or root / "ledger"
    try:
        events = http_site.make(home, args.events, args.seed, say)
        _sign(home)
        scans, verifies, with_chain, without_chain = [], [], [], []
        for _ in range(args.rounds):
            scans.append(rebuild.measure_scan(home))
            say(f"(a) scan + decode: {scans[-1]:,.0f} events/s")
            verifies.append(measure_verify(home))
            say(f"(b) verify:        {verifies[-1]:,.0f} events/s")
            with_chain.append(measure_fold(home, root, args.project_events, True))
            say(f"(c) with chain:    {with_chain[-1]:,.0f} events/s")
            without_chain.append(measure_fold(home, root, args.project_events, False))
            say(f"(d) without chain: {without_chain[-1]:,.0f} events/s")
        figures: Figures = {
            "events": events,
            "scan_decode_per_s": statistics.median(scans),
            "verify_per_s": statistics.median(verifies),
            "project_with_chain_per_s": statistics.median(with_chain),
            "project_without_chain_per_s": statistics.median(without_chain),
        }
        figures["verify_s"] = events / figures["verify_per_s"]
        figures.update(_http(home, root, events, args, say))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures["ratio_verify_vs_scan"] = (
        figures["verify_per_s"] / figures["scan_decode_per_s"]
    )
    figures["ratio_chain_overhead"] = (
        figures["project_with_chain_per_s"] / figures["project_without_chain_per_s"]
    )
    figures["ratio_proof_vs_card"] = figures["proof_rps"] / figures["card_rps"]
    return figures


def _sign(home: Path) -> None:
    """Signs a checkpoint of the whole log with ``ledger checkpoint``."""
    subprocess.run(
        [http_site.ledger_command(), "checkpoint"],
        env={**os.environ, "LEDGER_HOME": str(home)},
        capture_output=True,
        check=True,
    )


def measure_verify(home: Path) -> float:
    """(b) Events per second of ``ledger verify``'s whole check."""
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections import readmodel_path
    from projections.chain_verify import verify_ledger
    from projections.checkpoints import ChainSettings

    settings = Settings(home=home)
    chain = ChainSettings(home=home)
    ledger = Ledger(settings)
    try:
        started = time.perf_counter()
        report = verify_ledger(
            ledger, readmodel_path(settings), chain, chain.signer().verifier
        )
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    if not report.ok or report.verified_size != report.events:
        msg = f"the generated log does not verify: {report.findings}"
        raise SystemExit(msg)
    return report.events / seconds


def measure_fold(home: Path, root: Path, events: int, chain: bool) -> float:
    """(c), (d) Events per second of the live projector's fold into a new file."""
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections import engine, files, schema
    from projections.readmodels import chain as chain_model
    from projections.registry import READ_MODELS
    from projections.source import LogSource

    models = [m for m in READ_MODELS if chain or m is not chain_model.READ_MODEL]
    dispatch = engine.Dispatch(models)
    path = root / f"fold-{'with' if chain else 'without'}.sqlite"
    files.discard(path)
    conn = files.connect(path)
    schema.migrate(conn)
    ledger = Ledger(Settings(home=home))
    source = LogSource(ledger)
    try:
        started = time.perf_counter()
        after = 0
        while after < events:
            raws = source.read(after, 5000, events)
            if not raws:
                break
            batch = engine.Batch(conn, dispatch, log=source)
            after = engine.project(conn, after, raws, batch)
        seconds = time.perf_counter() - started
    finally:
        source.close()
        ledger.close()
        conn.close()
        files.discard(path)
    return after / seconds


def _http(
    home: Path, root: Path, events: int, args: argparse.Namespace, say: http_site.Say
) -> Figures:
    """(e) and (f): wrk on inclusion proofs of random events, and on a card."""
    find = wrk.find()
    scripts = wrk.write_scripts(root)
    server = http_site.Server(home, args.workers, root / "serve.log")
    try:
        targets = http_site.find_targets(home, server.base, generated=True)
        loads = {
            "proof": (server.base, scripts["proofs"], [str(events)]),
            "card": (
                urljoin(server.base, f"/api/tools/{targets.tool}"),
                scripts["get"],
                [],
            ),
        }
        for url, script, extra in loads.values():
            wrk.load(find, url, script, args.warmup, args.threads, extra)
            server.settle()
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in loads}
        share = args.seconds / args.rounds
        for _ in range(args.rounds):
            for name, (url, script, extra) in loads.items():
                rounds[name].append(
                    wrk.load(find, url, script, share, args.threads, extra)
                )
                server.settle()
    finally:
        server.stop()
    figures: Figures = {}
    for name in loads:
        measured = wrk.median_round(rounds[name])
        errors = sum(r["socket_errors"] + r["non_2xx"] for r in rounds[name])
        if errors:
            msg = f"{name}: {errors:.0f} errors under load"
            raise SystemExit(msg)
        figures[f"{name}_rps"] = measured["rps"]
        say(f"({'e' if name == 'proof' else 'f'}) {name}: {measured['rps']:,.0f} req/s")
    return figures
